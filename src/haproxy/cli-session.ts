import net from 'node:net';
import { MasterSocketError, socketFailure } from './master-cli.js';

/**
 * The line the master CLI prints when it waits for the next command in interactive mode: `master> `,
 * or `master[ReloadFailed]> ` after a reload that failed (HAProxy 2.6, while the old worker serves on).
 */
const PROMPT = /^master(?:\[[^\]\n]*\])?> $/;
/** A payload line read in interactive mode: HAProxy prompts `+ ` for the next one, before it answers. */
const PAYLOAD_PROMPTS = /^(?:\+ )+/;

/**
 * One connection to HAProxy's master CLI in interactive mode (`prompt`), for commands sent one
 * after another on it: a connection of its own per command costs watch about ten times the CPU
 * (measured under watch's flags: 172 µs on a stats socket and 217 µs on the master CLI against
 * 20 µs, and 317 µs of wall time on the master CLI against 31 µs). A map swap's four commands go
 * through one. Each answer is given as a connection of its own would give it: the prompt after it
 * taken off, and a payload's `+ ` prompts. Only commands that never switch the session to a
 * worker go on it (`@1 COMMAND`). Closed by `close`, and by HAProxy at a reload: a command under
 * way then fails, or gets what came of its answer, as on a connection of its own. (Not for a stats
 * socket: its connection outlives a reload, on the old worker.)
 */
export class CliSession {
  private received = '';
  private waiting?: { done: (answer: string) => void; fail: (error: Error) => void };
  /** Why the session ended, once it has: an error is made only for a command that meets it (making one costs a stack trace). */
  private ended?: () => Error;

  private constructor(
    private readonly socket: string,
    private readonly conn: net.Socket,
  ) {
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => this.take(chunk));
    conn.on('error', (error: NodeJS.ErrnoException) => this.end(() => socketFailure(socket, error)));
    // Closed under a command: its answer is what came, as on a connection of its own (nothing, for a payload HAProxy dropped).
    conn.on('close', () => {
      this.waiting?.done(this.received.replace(PAYLOAD_PROMPTS, ''));
      this.end(() => new MasterSocketError(socket, 'other', 'the CLI session was closed by HAProxy'));
    });
  }

  /** Connects and turns on interactive mode; rejects with MasterSocketError as a command on a connection of its own would. */
  static async open(socket: string, timeoutMs: number): Promise<CliSession> {
    const session = new CliSession(socket, net.createConnection({ path: socket }));
    await session.ask('prompt', timeoutMs);
    return session;
  }

  /** Sends `request` (one command, and its payload) and gives its answer. */
  ask(request: string, timeoutMs: number): Promise<string> {
    if (this.ended) return Promise.reject(this.ended());
    if (this.waiting) return Promise.reject(new Error('a CLI session sends one command at a time'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.end(() => new MasterSocketError(this.socket, 'timeout', `no answer within ${timeoutMs}ms`));
      }, timeoutMs);
      const settle = () => {
        clearTimeout(timer);
        this.waiting = undefined;
      };
      this.waiting = {
        done: (answer) => (settle(), resolve(answer)),
        fail: (error) => (settle(), reject(error)),
      };
      this.conn.write(`${request}\n`);
    });
  }

  close(): void {
    this.end(() => new MasterSocketError(this.socket, 'other', 'the CLI session was closed'));
  }

  private take(chunk: string): void {
    this.received += chunk;
    // The answer is whole once the prompt follows it: at the start, or after a line break (after a payload's `+ ` prompts).
    const text = this.received.replace(PAYLOAD_PROMPTS, '');
    if (!text.endsWith('> ')) return;
    const last = text.lastIndexOf('\n') + 1;
    if (!PROMPT.test(text.slice(last))) return;
    this.received = '';
    this.waiting?.done(text.slice(0, last));
  }

  private end(why: () => Error): void {
    if (this.ended) return;
    this.ended = why;
    this.conn.destroy();
    this.waiting?.fail(why());
  }
}
