import { OccsError } from '../errors.js';
import { CliSession } from './cli-session.js';
import { cliCommands, masterCommand, payloadCommand, payloadRequest, refuseChained, type PayloadKind } from './master-cli.js';

/** A way to reach the running worker's CLI: an admin `stats socket`, or the master's with `@1`. */
export interface RuntimeChannel {
  readonly description: string;
  send(command: string): Promise<string>;
  /** One command with a payload: PEM lines (`set ssl cert NAME <<`), or a map's entries (`add map @V FILE <<`). */
  sendPayload(command: string, payload: string, kind?: PayloadKind): Promise<string>;
  /** Many commands in as few requests as the CLI takes (each request within REQUEST_BYTES); the answers, in order. */
  sendAll(commands: readonly string[]): Promise<string>;
  /**
   * Runs `work` with a channel whose commands all go through one connection (cli-session.ts),
   * closed once `work` ends: for a few commands in a row (a map swap), one after another, not
   * for batches. The master CLI's channel has it; an admin socket's has not.
   */
  session?<T>(work: (channel: RuntimeChannel) => Promise<T>): Promise<T>;
}

/**
 * The largest payload sent with one command (a bundle, a map's entries). HAProxy's CLI holds a
 * command and its payload in one buffer (tune.bufsize, 16 KiB by default); a larger one is dropped
 * with no answer at all (measured on 2.6: the connection closes at 16,390 bytes).
 */
export const RUNTIME_PAYLOAD_BYTES = 15 * 1024;

const COMMAND_TIMEOUT_MS = 2000;
/** How long one command of a batch may take on top, at most (HAProxy's own is well under 1 ms). */
const PER_COMMAND_MS = 10;
/** Commands joined into one request stay within this: far below what HAProxy's CLI reads in one go. */
const REQUEST_BYTES = 8 * 1024;

export function runtimeChannel(kind: 'master' | 'admin', socket: string): RuntimeChannel {
  const description = kind === 'master' ? `the master CLI ${socket} (@1)` : `the admin socket ${socket}`;
  const failed = (error: unknown): never => {
    throw runtimeRefused(`${description} cannot be used (${(error as Error).message})`, error);
  };
  return {
    description,
    send: (command) => masterCommand(socket, kind === 'master' ? `@1 ${command}` : command, COMMAND_TIMEOUT_MS).catch(failed),
    sendPayload: (command, payload, lines) =>
      payloadCommand(socket, kind === 'master' ? `@1 ${command}` : command, payload, COMMAND_TIMEOUT_MS, lines).catch(failed),
    async sendAll(commands) {
      let answers = '';
      for (const batch of batches(commands)) {
        answers += await cliCommands(socket, batch, kind, COMMAND_TIMEOUT_MS + batch.length * PER_COMMAND_MS).catch(failed);
      }
      return answers;
    },
    // Only on the master CLI, which closes its connections at a reload: a connection to a stats
    // socket stays with the worker it reached, so a session there would finish a swap on a worker
    // that is going away, where a connection per command reaches the new one and is refused.
    ...(kind === 'master' && { session: <T>(work: (channel: RuntimeChannel) => Promise<T>) => inSession(socket, description, failed, work) }),
  };
}

/** `work` on a channel whose commands go one after another through one master CLI session, closed after. */
async function inSession<T>(socket: string, description: string, failed: (error: unknown) => never, work: (channel: RuntimeChannel) => Promise<T>): Promise<T> {
  const session = await CliSession.open(socket, COMMAND_TIMEOUT_MS).catch(failed);
  const ask = (request: string) => session.ask(request, COMMAND_TIMEOUT_MS).catch(failed);
  // Each command names the worker: `@1` alone would switch the session to it.
  const send = (command: string) => {
    refuseChained(command);
    return ask(`@1 ${command}`);
  };
  const channel: RuntimeChannel = {
    description,
    send,
    sendPayload: (command, payload, lines = 'pem') => ask(payloadRequest(`@1 ${command}`, payload, lines)),
    async sendAll(commands) {
      let answers = '';
      for (const command of commands) answers += await send(command);
      return answers;
    },
  };
  try {
    return await work(channel);
  } finally {
    session.close();
  }
}

/** Commands cut into runs of at most REQUEST_BYTES each. */
function batches(commands: readonly string[]): string[][] {
  const out: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const command of commands) {
    if (current.length > 0 && size + command.length + 6 > REQUEST_BYTES) {
      out.push(current);
      [current, size] = [[], 0];
    }
    current.push(command);
    size += command.length + 6;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** HAProxy refused a runtime command, or its state afterwards is not what was asked. */
export const runtimeRefused = (message: string, cause?: unknown): OccsError =>
  new OccsError('RUNTIME_REFUSED', message, { hint: 'the change goes by a verified reload instead', cause });

const WORD = /^[A-Za-z0-9._:/[\]@,%~-]+$/;

/**
 * A runtime command from words, each held to a strict character set: the runtime API chains
 * commands with `;`, so no word with `;`, a space or a line break can ever be sent.
 */
export function runtimeCommand(...words: string[]): string {
  for (const word of words) {
    if (!WORD.test(word)) throw runtimeRefused(`refusing to send ${JSON.stringify(word)} to the runtime API`);
  }
  return words.join(' ');
}

/** The answer's lines that say something (HAProxy ends each answer with an empty line). */
export const said = (answer: string): string[] =>
  answer
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);

/** Sends `commands` in batches; every line of the answer must match `ok`, and `count` of them must. */
export async function expectAll(channel: RuntimeChannel, commands: string[], ok: RegExp, count: number, what: string): Promise<void> {
  if (commands.length === 0) return;
  const lines = said(await channel.sendAll(commands));
  const refused = lines.filter((l) => !ok.test(l));
  if (refused.length > 0 || lines.length !== count) {
    throw runtimeRefused(`HAProxy refused to ${what}: ${refused.slice(0, 3).join(' | ') || `${lines.length} of ${count} answered`}`);
  }
}
