import net from 'node:net';
import { AnswerReader, type AnswerDone } from './answer-reader.js';
import { HttpTimeoutError, type HttpResponse } from './http-answer.js';

/** What a GET over plain HTTP is given: the answer goes into `into`'s buffer. */
export interface PlainGetOptions {
  headers: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  into: (size: number) => Buffer;
  maxBytes: number;
}

/** Every socket's reads land here and are copied out at once (the callbacks run one at a time). */
const SCRATCH_BYTES = 64 * 1024;
const aborted = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });

/**
 * GETs over plain HTTP/1.1, kept-alive, whose answers are read straight into a kept buffer.
 * node:http hands each read over as a new 64 KB buffer; a 1.4 MB listing is 22 of them per answer,
 * and while watch holds a large heap they brought on a full garbage collection every few answers
 * (measured: a client holding 10,000 entries, receiving a 1.4 MB answer, used 3.7 ms of CPU per
 * answer through node:http and 1.6 ms through a socket that reads into one buffer). Sockets here
 * read into one scratch buffer.
 */
export class PlainGet {
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  private readonly idle = new Map<string, Connection[]>();
  private readonly open = new Set<Connection>();

  private shut = false;

  async get(url: URL, options: PlainGetOptions): Promise<HttpResponse> {
    // As node:http does: a header value holds no control character (never shown: it may be the token).
    const bad = Object.entries(options.headers).find(([, value]) => /[^\t\x20-\x7e\x80-\xff]/.test(value));
    if (bad) throw Object.assign(new TypeError(`invalid character in the ${bad[0]} header`), { code: 'ERR_INVALID_CHAR' });
    const origin = `${url.hostname}:${url.port || 80}`;
    const reused = this.reusable(origin);
    try {
      return await this.exchange(reused ?? this.connect(url), origin, url, options);
    } catch (error) {
      // A kept-alive connection the server closed as it was reused: once more, on a new one.
      if (!reused || !(error as { beforeAnswer?: boolean }).beforeAnswer || options.signal?.aborted || this.shut) throw error;
      return this.exchange(this.connect(url), origin, url, options);
    }
  }

  /** An idle connection to `origin` the server has not said it closes by now. */
  private reusable(origin: string): Connection | undefined {
    for (let connection; (connection = this.idle.get(origin)?.pop());) {
      if (connection.until === undefined || Date.now() < connection.until) return connection;
      connection.socket.destroy();
    }
    return undefined;
  }

  private connect(url: URL): Connection {
    const connection: Connection = { socket: undefined as unknown as net.Socket };
    connection.socket = net.connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      noDelay: true,
      // As node:http's agent: a blocking query is silent for minutes, which some NATs and load balancers take for a dead connection.
      keepAlive: true,
      keepAliveInitialDelay: 1000,
      onread: {
        buffer: this.scratch,
        // Bytes no answer waits for: the connection cannot be trusted again.
        callback: (n) => {
          if ((connection.reader?.take(this.scratch.subarray(0, n)) ?? 0) < n) connection.socket.destroy();
          return true;
        },
      },
    });
    const forget = () => {
      this.open.delete(connection);
      for (const list of this.idle.values()) if (list.includes(connection)) list.splice(list.indexOf(connection), 1);
    };
    connection.socket
      .on('error', (error) => connection.reader?.fail(error))
      // The server closed its side: no request goes on this connection again.
      .on('end', () => {
        if (!connection.reader) connection.socket.destroy();
      })
      .on('close', () => {
        forget();
        connection.reader?.closed();
      });
    this.open.add(connection);
    return connection;
  }

  private exchange(connection: Connection, origin: string, url: URL, options: PlainGetOptions): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const { socket } = connection;
      let settled = false;
      const done: AnswerDone = (error, response, reuse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', abort);
        connection.reader = undefined;
        if (reuse && !socket.destroyed && !socket.readableEnded && !this.shut) {
          socket.unref();
          connection.until = reuse.until;
          if (!this.idle.has(origin)) this.idle.set(origin, []);
          this.idle.get(origin)!.push(connection);
        } else socket.destroy();
        if (response) resolve(response);
        else reject(error instanceof Error ? error : new Error(String(error)));
      };
      const abort = () => done(aborted());
      const timer = setTimeout(() => done(new HttpTimeoutError(options.timeoutMs)), options.timeoutMs);
      if (options.signal?.aborted) return abort();
      options.signal?.addEventListener('abort', abort, { once: true });
      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, ...Object.entries(options.headers).map(([k, v]) => `${k}: ${v}`)];
      connection.reader = new AnswerReader(options, done);
      socket.ref();
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    });
  }

  close(): void {
    this.shut = true;
    for (const connection of this.open) {
      connection.reader?.closed(true);
      connection.socket.destroy();
    }
    this.idle.clear();
  }
}

interface Connection {
  socket: net.Socket;
  reader?: AnswerReader;
  /** When the server said it closes it while idle (Keep-Alive: timeout=N), less a second. */
  until?: number;
}
