import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { BodyInto } from './answer-buffers.js';
import { AnswerTooLargeError, HttpTimeoutError, type HttpResponse } from './http.js';

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
/** The most a status line and headers may take. */
const MAX_HEAD_BYTES = 64 * 1024;

const protocolError = (what: string) => Object.assign(new Error(`not an HTTP/1.1 answer: ${what}`), { code: 'HPE_INVALID_RESPONSE' });
const aborted = () => Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });

/**
 * GETs over plain HTTP/1.1, kept-alive, whose answers are read straight into a kept buffer.
 * node:http hands each read over as a new 64 KB buffer; a 1.4 MB listing is 22 of them per answer,
 * and while watch holds a large heap they brought on a full garbage collection every few answers
 * (measured with the Consul test server: 3.7 ms of CPU per answer through node:http, 1.6 ms
 * through a socket that reads into one buffer). Sockets here read into one scratch buffer.
 */
export class PlainGet {
  private readonly scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  private readonly idle = new Map<string, Connection[]>();
  private readonly open = new Set<Connection>();

  async get(url: URL, options: PlainGetOptions): Promise<HttpResponse> {
    const origin = `${url.hostname}:${url.port || 80}`;
    const reused = this.idle.get(origin)?.pop();
    try {
      return await this.exchange(reused ?? this.connect(url), origin, url, options);
    } catch (error) {
      // A kept-alive connection the server closed as it was reused: once more, on a new one.
      if (!reused || !(error as { beforeAnswer?: boolean }).beforeAnswer || options.signal?.aborted) throw error;
      return this.exchange(this.connect(url), origin, url, options);
    }
  }

  private connect(url: URL): Connection {
    const connection: Connection = { socket: undefined as unknown as net.Socket };
    connection.socket = net.connect({
      host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(url.port || 80),
      noDelay: true,
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
      const done = (error: unknown, response?: HttpResponse, reuse = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', abort);
        connection.reader = undefined;
        if (reuse && !socket.destroyed) {
          socket.unref();
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
      if (lines.some((line) => /[\r\n\0]/.test(line))) return done(new TypeError('a header or the path holds a line break'));
      connection.reader = new AnswerReader(options, done);
      socket.ref();
      socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    });
  }

  close(): void {
    for (const connection of this.open) connection.socket.destroy();
    this.idle.clear();
  }
}

interface Connection {
  socket: net.Socket;
  reader?: AnswerReader;
}

type Phase = 'head' | 'size' | 'data' | 'crlf' | 'trailer' | 'fixed' | 'rest' | 'done';

/** One answer, parsed as its bytes arrive: the status line and headers, then a body by length, in chunks, or up to the close. */
class AnswerReader {
  private phase: Phase = 'head';
  /** Bytes of the head, or of a chunk-size or trailer line, not yet complete. */
  private pending = '';
  private left = 0;
  private size = 0;
  private answered = false;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private keepAlive = true;
  private body?: BodyInto;

  constructor(
    private readonly options: PlainGetOptions,
    private readonly done: (error: unknown, response?: HttpResponse, reuse?: boolean) => void,
  ) {}

  /** Bytes read; returns how many belong to this answer (more: the server sent what was not asked). */
  take(bytes: Buffer): number {
    this.answered = true;
    let at = 0;
    try {
      while (at < bytes.length && this.phase !== 'done') at = this.step(bytes, at);
    } catch (error) {
      this.done(error);
    }
    return at;
  }

  fail(error: unknown): void {
    this.done(Object.assign(error as object, { beforeAnswer: !this.answered }));
  }

  closed(): void {
    if (this.phase === 'rest') return this.finish(false);
    this.done(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET', beforeAnswer: !this.answered }));
  }

  /** Reads from `at` in the phase it is in; returns where it stopped. */
  private step(bytes: Buffer, at: number): number {
    switch (this.phase) {
      case 'head':
      case 'size':
      case 'trailer': {
        // Up to the next line feed: a head ends at an empty line, a chunk-size or trailer line at its CRLF.
        const lf = bytes.indexOf(0x0a, at);
        const stop = lf < 0 ? bytes.length : lf + 1;
        this.pending += bytes.toString('latin1', at, stop);
        if (this.pending.length > MAX_HEAD_BYTES) throw protocolError('its head or a chunk line is too long');
        const end = this.phase === 'head' ? '\r\n\r\n' : '\r\n';
        if (!this.pending.endsWith(end)) return stop;
        const text = this.pending.slice(0, -end.length);
        this.pending = '';
        this.line(text);
        return stop;
      }
      case 'data':
      case 'fixed':
      case 'rest': {
        const n = this.phase === 'rest' ? bytes.length - at : Math.min(this.left, bytes.length - at);
        this.add(bytes.subarray(at, at + n));
        this.left -= n;
        if (this.left === 0 && this.phase === 'data') this.phase = 'crlf';
        else if (this.left === 0 && this.phase === 'fixed') this.finish(true);
        return at + n;
      }
      case 'crlf': {
        // The CRLF after a chunk's data, a byte at a time (it may be split across two reads).
        this.pending += bytes.toString('latin1', at, at + 1);
        if (this.pending.length === 2) {
          if (this.pending !== '\r\n') throw protocolError('a chunk that does not end in CRLF');
          [this.pending, this.phase] = ['', 'size'];
        }
        return at + 1;
      }
      default:
        return bytes.length;
    }
  }

  /** A complete head, chunk-size line or trailer line. */
  private line(text: string): void {
    if (this.phase === 'head') return this.head(text);
    if (this.phase === 'trailer') {
      if (text === '') this.finish(true);
      return;
    }
    const size = /^([0-9a-fA-F]{1,8})[ \t]*(?:;.*)?$/.exec(text);
    if (!size) throw protocolError('a chunk size that is not hexadecimal');
    this.left = parseInt(size[1]!, 16);
    this.phase = this.left === 0 ? 'trailer' : 'data';
  }

  private head(text: string): void {
    const [statusLine, ...fields] = text.split('\r\n');
    const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(statusLine ?? '');
    if (!status) throw protocolError('no HTTP/1.x status line');
    this.status = Number(status[2]);
    if (this.status >= 100 && this.status < 200) return; // an interim answer: the real one follows
    const headers: IncomingHttpHeaders = {};
    for (const field of fields) {
      const colon = field.indexOf(':');
      if (colon <= 0) throw protocolError('a header without a name');
      const name = field.slice(0, colon).trim().toLowerCase();
      const value = field.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${String(headers[name])}, ${value}`;
    }
    this.headers = headers;
    this.keepAlive = status[1] === '1' ? !/\bclose\b/i.test(String(headers.connection ?? '')) : /\bkeep-alive\b/i.test(String(headers.connection ?? ''));
    const length = headers['content-length'] === undefined ? undefined : Number(headers['content-length']);
    if (length !== undefined && !(Number.isSafeInteger(length) && length >= 0)) throw protocolError('a Content-Length that is no number');
    if (length !== undefined && length > this.options.maxBytes) throw new AnswerTooLargeError(this.options.maxBytes);
    this.body = new BodyInto(this.options.into, length ?? NaN);
    if (this.status === 204 || this.status === 304) return this.finish(true);
    if (/\bchunked\b/i.test(String(headers['transfer-encoding'] ?? ''))) this.phase = 'size';
    else if (length !== undefined) [this.phase, this.left] = ['fixed', length];
    else [this.phase, this.keepAlive] = ['rest', false];
    if (this.phase === 'fixed' && length === 0) this.finish(true);
  }

  private add(bytes: Buffer): void {
    this.size += bytes.length;
    if (this.size > this.options.maxBytes) throw new AnswerTooLargeError(this.options.maxBytes);
    this.body!.add(bytes);
  }

  private finish(framed: boolean): void {
    this.phase = 'done';
    this.done(undefined, { status: this.status, headers: this.headers, body: this.body!.whole }, framed && this.keepAlive);
  }
}
