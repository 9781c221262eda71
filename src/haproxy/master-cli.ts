import net from 'node:net';
import { parseShowProc, type ProcTable } from './show-proc.js';
import { OccsError } from '../errors.js';

/** Why a master socket did not give an answer; reload verification retries some of these. */
export class MasterSocketError extends Error {
  constructor(
    readonly socket: string,
    readonly reason: 'absent' | 'refused' | 'timeout' | 'garbled' | 'other',
    detail: string,
  ) {
    super(`master socket ${socket}: ${detail}`);
    this.name = 'MasterSocketError';
  }
}

/**
 * Sends one command to an HAProxy CLI socket (the master's `-S`, or a `stats socket`) and returns
 * its whole answer. HAProxy answers and closes only once the client has half-closed, so the write
 * side is ended right after the command. A `;` or a line break would chain another command, so
 * a command holding one is refused here, whatever built it.
 */
export function masterCommand(socket: string, command: string, timeoutMs: number): Promise<string> {
  refuseChained(command);
  return exchange(socket, command, timeoutMs);
}

/** A line of a PEM text as occs-lb writes it (src/tls/bundle.ts): BEGIN/END lines and base64, nothing else. */
const PEM_LINE = /^(?:-----(?:BEGIN|END) [A-Z0-9 ]+-----|[A-Za-z0-9+/=]{1,76})$/;
/** A line of a map's payload (`add map @V FILE <<`): a key and a value, of the characters a runtime command's word may hold. */
const MAP_LINE = /^[A-Za-z0-9._:/[\]@,%~-]+ [A-Za-z0-9._:/[\]@,%~-]+$/;
const PAYLOAD_LINES = { pem: PEM_LINE, map: MAP_LINE } as const;
/** What a payload holds: a PEM bundle, or a map's entries. */
export type PayloadKind = keyof typeof PAYLOAD_LINES;

/**
 * A command with a payload (`set ssl cert NAME <<`, `add map @V FILE <<`): the payload's lines
 * follow the command, and an empty line ends it. A payload line of anything but its kind (PEM, or
 * a map entry: an empty line would end the payload, and what followed would run as commands) is
 * refused here, whatever built it. The master CLI forwards the command and its payload to the
 * worker as one request, where it forwards each command of a batch on its own.
 */
export function payloadCommand(socket: string, command: string, payload: string, timeoutMs: number, kind: PayloadKind = 'pem'): Promise<string> {
  return exchange(socket, payloadRequest(command, payload, kind), timeoutMs);
}

/** The request that sends `command` with its payload, checked as payloadCommand says (the line break that ends a request then ends the payload). */
export function payloadRequest(command: string, payload: string, kind: PayloadKind): string {
  refuseChained(command);
  const lines = payload.replace(/\n$/, '').split('\n');
  if (!lines.every((l) => PAYLOAD_LINES[kind].test(l))) {
    throw new OccsError('UNEXPECTED', `refusing to send a payload that is not ${kind === 'pem' ? 'PEM' : 'map entries'} with "${command}"`);
  }
  return `${command} <<\n${lines.join('\n')}\n`;
}

/** Refuses a command that would chain another (`;`, a line break, any control character). */
export function refuseChained(command: string): void {
  if (/[;\p{Cc}]/u.test(command)) {
    throw new OccsError('UNEXPECTED', `refusing to send a command with ';' or a control character: ${JSON.stringify(command)}`);
  }
}

/**
 * Several commands in one request: each is checked as `masterCommand` checks one, then they are
 * joined by our own `;` and nothing else. On the master CLI, `@1` alone first sends every command
 * after it to the worker (a third of the time of `@1` before each, measured: 0.25 ms against
 * 0.8 ms a command), and `@` then `quit` end the session (else the master waits for more).
 */
export function cliCommands(socket: string, commands: readonly string[], mode: 'master' | 'admin', timeoutMs: number): Promise<string> {
  for (const command of commands) refuseChained(command);
  const line = mode === 'master' ? `@1; ${commands.join('; ')}; @; quit` : commands.join('; ');
  return exchange(socket, line, timeoutMs);
}

function exchange(socket: string, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection({ path: socket });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new MasterSocketError(socket, 'timeout', `no answer within ${timeoutMs}ms`));
    }, timeoutMs);
    conn.on('connect', () => conn.end(`${command}\n`));
    conn.on('data', (chunk: Buffer) => chunks.push(chunk));
    conn.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    conn.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(socketFailure(socket, error));
    });
  });
}

/** Why a connection to a CLI socket failed, as MasterSocketError tells it. */
export function socketFailure(socket: string, error: NodeJS.ErrnoException): MasterSocketError {
  const reason = error.code === 'ENOENT' ? 'absent' : error.code === 'ECONNREFUSED' ? 'refused' : 'other';
  return new MasterSocketError(socket, reason, error.code ?? error.message);
}

export async function showProc(socket: string, timeoutMs: number): Promise<ProcTable> {
  const answer = await masterCommand(socket, 'show proc', timeoutMs);
  const table = parseShowProc(answer);
  if (!table) throw new MasterSocketError(socket, 'garbled', `"show proc" answered no process table: ${JSON.stringify(answer.slice(0, 120))}`);
  return table;
}

/**
 * The master CLI socket an HAProxy command line names with `-S [unix@]PATH[,options]`: its path
 * (relative paths are the process's own), null when -S names no file (`ipv4@…`, `abns@…`), or
 * undefined when there is no -S at all.
 */
export function masterSocketArgument(args: readonly string[]): string | null | undefined {
  const i = args.indexOf('-S');
  if (i < 0) return undefined;
  const spec = args[i + 1]?.split(',')[0] ?? '';
  if (!spec || (spec.includes('@') && !spec.startsWith('unix@'))) return null;
  return spec.replace(/^unix@/, '');
}
