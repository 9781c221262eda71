import type { IncomingHttpHeaders } from 'node:http';
import { BodyInto } from './answer-buffers.js';
import { AnswerTooLargeError, type HttpResponse } from './http-answer.js';

/** The most a status line and headers, or a chunk-size line, may take. */
const MAX_HEAD_BYTES = 64 * 1024;

const protocolError = (what: string) => Object.assign(new Error(`not an HTTP/1.1 answer: ${what}`), { code: 'HPE_INVALID_RESPONSE' });

/** How an answer ended: its response, and whether its connection may carry another request (and until when, by the server's Keep-Alive hint). */
export type AnswerDone = (error: unknown, response?: HttpResponse, reuse?: { until?: number }) => void;

type Phase = 'head' | 'size' | 'data' | 'crlf' | 'trailer' | 'fixed' | 'rest' | 'done';

/** One answer, parsed as its bytes arrive: the status line and headers, then a body by length, in chunks, or up to the close. */
export class AnswerReader {
  private phase: Phase = 'head';
  /** Bytes of the head, or of a chunk-size or trailer line, not yet complete. */
  private pending = '';
  private left = 0;
  private size = 0;
  private answered = false;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private keepAlive = true;
  /** When the server said it closes the connection, if it did (Keep-Alive: timeout=N), less a second. */
  private until?: number;
  private body?: BodyInto;

  constructor(
    private readonly options: { into: (size: number) => Buffer; maxBytes: number },
    private readonly done: AnswerDone,
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

  /** The connection closed; `byUs`: we closed it (an answer read up to the close is then cut short, not complete). */
  closed(byUs = false): void {
    if (this.phase === 'rest' && !byUs) return this.finish(false);
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
        // Lines end in CRLF, or a bare LF as node:http also takes.
        const end = (this.phase === 'head' ? /\r?\n\r?\n$/ : /\r?\n$/).exec(this.pending);
        if (!end) return stop;
        const text = this.pending.slice(0, end.index);
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
    const [statusLine, ...fields] = text.split(/\r?\n/);
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
    const length = headers['content-length'] === undefined ? undefined : /^\d{1,15}$/.test(headers['content-length']) ? Number(headers['content-length']) : NaN;
    if (Number.isNaN(length)) throw protocolError('a Content-Length that is not one number');
    const timeout = /\btimeout=(\d+)/i.exec(String(headers['keep-alive'] ?? ''));
    this.until = timeout ? Date.now() + Number(timeout[1]) * 1000 - 1000 : undefined;
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
    this.done(undefined, { status: this.status, headers: this.headers, body: this.body!.whole }, framed && this.keepAlive ? { until: this.until } : undefined);
  }
}
