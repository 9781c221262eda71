import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { systemErrorCode, usageError } from '../errors.js';
import { BodyInto } from './answer-buffers.js';
import { AnswerTooLargeError, HttpTimeoutError, type HttpResponse } from './http-answer.js';
import { PlainGet } from './plain-get.js';
import { DEFAULT_MAX_ANSWER_BYTES, type TlsFiles } from './source.js';

export { AnswerTooLargeError, HttpTimeoutError, type HttpResponse } from './http-answer.js';

/** A response whose body is still arriving, read line by line (etcd's watch stream). */
export interface HttpStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  lines: AsyncIterable<string>;
}

/** A request failed because the kept-alive connection it was sent on had just been closed. */
class ReusedSocketReset extends Error {
  constructor(readonly reset: NodeJS.ErrnoException) {
    super(reset.message);
  }
}

type RequestOptions = {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** A buffer to read the answer into instead of a new one (answer-buffers.ts). */
  into?: (size: number) => Buffer;
};

/**
 * A small keep-alive HTTP(S) client on node:http, because native fetch cannot take a CA file, a
 * client certificate or an opt-out of verification without an extra dependency. One per store.
 */
export class HttpClient {
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent: https.Agent;
  private readonly maxBytes: number;
  private readonly plain = new PlainGet();

  constructor(files: TlsFiles) {
    this.maxBytes = files.maxBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.httpsAgent = new https.Agent({
      keepAlive: true,
      ca: files.caFile ? [...systemCas(), readPem(files.caFile, '--kv-ca')] : undefined,
      cert: files.certFile ? readPem(files.certFile, '--kv-cert') : undefined,
      key: files.keyFile ? readPem(files.keyFile, '--kv-key') : undefined,
      rejectUnauthorized: !files.insecure,
    });
  }

  /** One request, its whole answer buffered; `timeoutMs` bounds it all. */
  async request(url: URL, options: RequestOptions): Promise<HttpResponse> {
    // A GET read into a kept buffer, over plain HTTP: through sockets that read into one buffer (plain-get.ts).
    const { into, headers = {}, timeoutMs, signal } = options;
    if (into && url.protocol === 'http:' && (options.method ?? 'GET') === 'GET' && options.body === undefined) {
      return this.plain.get(url, { headers, timeoutMs, signal, into, maxBytes: this.maxBytes });
    }
    const { res, timer } = await this.open(url, options);
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      const tooLarge = () => {
        res.destroy();
        return new AnswerTooLargeError(this.maxBytes);
      };
      const length = Number(res.headers['content-length']);
      if (length > this.maxBytes) throw tooLarge();
      const into = options.into && new BodyInto(options.into, length);
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > this.maxBytes) throw tooLarge();
        if (into) into.add(chunk);
        else chunks.push(chunk);
      }
      return { status: res.statusCode ?? 0, headers: res.headers, body: into ? into.whole : Buffer.concat(chunks) };
    } finally {
      clearTimeout(timer);
    }
  }

  /** A request whose answer streams: `timeoutMs` bounds only the wait for its headers. */
  async stream(url: URL, options: RequestOptions): Promise<HttpStream> {
    const { res, timer } = await this.open(url, options);
    clearTimeout(timer);
    return { status: res.statusCode ?? 0, headers: res.headers, lines: lines(res, this.maxBytes) };
  }

  /**
   * Sends a request. A kept-alive connection the store closed as it was being reused (the store's
   * idle timeout and ours crossing: ECONNRESET before any answer) is retried once on a new
   * connection: every request occs-lb makes only reads, so sending it again is safe.
   */
  private async open(url: URL, options: RequestOptions): Promise<{ res: http.IncomingMessage; timer: NodeJS.Timeout }> {
    try {
      return await this.openOnce(url, options);
    } catch (error) {
      if (!(error instanceof ReusedSocketReset)) throw error;
      return this.openOnce(url, options).catch((again: unknown) => {
        throw again instanceof ReusedSocketReset ? again.reset : again;
      });
    }
  }

  private openOnce(url: URL, options: RequestOptions): Promise<{ res: http.IncomingMessage; timer: NodeJS.Timeout }> {
    const isHttps = url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, {
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: isHttps ? this.httpsAgent : this.httpAgent,
        signal: options.signal,
      });
      const timer = setTimeout(() => req.destroy(new HttpTimeoutError(options.timeoutMs)), options.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(req.reusedSocket && error.code === 'ECONNRESET' && !options.signal?.aborted ? new ReusedSocketReset(error) : error);
      });
      req.on('response', (res) => resolve({ res, timer }));
      req.end(options.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.plain.close();
  }
}

async function* lines(res: http.IncomingMessage, maxBytes: number): AsyncIterable<string> {
  let pending = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    const text = chunk.toString('utf8');
    let from = pending.length;
    pending += text;
    let newline: number;
    // Only the new text can hold a newline: never rescan what came before.
    while ((newline = pending.indexOf('\n', from)) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      from = 0;
      if (line) yield line;
    }
    if (pending.length > maxBytes) {
      res.destroy();
      throw new AnswerTooLargeError(maxBytes);
    }
  }
  if (pending.trim()) yield pending.trim();
}

/** Node's own roots and NODE_EXTRA_CA_CERTS, so --kv-ca adds a CA rather than replacing them. */
function systemCas(): Array<string | Buffer> {
  const cas: Array<string | Buffer> = [...tls.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      cas.push(readFileSync(extra));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so do we, by ignoring it.
    }
  }
  return cas;
}

function readPem(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw usageError(`cannot read ${file} (${systemErrorCode(error) ?? String(error)})`, { hint: `fix ${option}` });
  }
}
