import { execFile, spawn } from 'node:child_process';
import https from 'node:https';
import tls, { type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What a TLS server presented: the leaf's serial (hex, upper case, no leading zeros) and subject, or why the handshake failed. */
export interface Presented {
  serial?: string;
  subject?: string;
  /** The ALPN protocol agreed, if any. */
  alpn?: string;
  failed?: string;
}

/** Runs a command with `input` on stdin (closed at once when none: s_client would wait on it), resolving with its stdout whatever its exit. */
function output(command: string, args: string[], input = '', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'], timeout: timeoutMs });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('close', () => resolve(text));
    child.on('error', reject);
    child.stdin.end(input);
  });
}

/**
 * One handshake by the real `openssl s_client`, with `servername` as SNI (none: no SNI sent),
 * the server's certificate read back with `openssl x509`.
 */
export async function presented(port: number, servername?: string): Promise<Presented> {
  const sni = servername === undefined ? ['-noservername'] : ['-servername', servername];
  const stdout = await output('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...sni, '-alpn', 'h2,http/1.1']);
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
  if (!pem) return { failed: stdout.slice(0, 300) || 'no certificate' };
  const text = await output('openssl', ['x509', '-noout', '-serial', '-subject'], pem);
  return {
    serial: /serial=([0-9A-F]+)/.exec(text)?.[1]?.replace(/^0+(?=.)/, ''),
    subject: /subject=(.*)/.exec(text)?.[1]?.trim(),
    alpn: /ALPN protocol: (\S+)/.exec(stdout)?.[1],
  };
}

/** One request by the real curl over HTTPS to `host` (resolved to 127.0.0.1), trusting `caFile`: status, headers (lower-cased names), body and the HTTP version. */
export async function curlHttps(
  host: string,
  port: number,
  path: string,
  caFile: string,
): Promise<{ status: number; headers: Record<string, string>; body: string; version: string }> {
  const { stdout } = await run(
    'curl',
    ['-s', '-i', '--max-time', '5', '--cacert', caFile, '--resolve', `${host}:${port}:127.0.0.1`, `https://${host}:${port}${path}`],
    { timeout: 8000, encoding: 'utf8' },
  );
  const [head = '', ...rest] = stdout.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(':');
    if (at > 0) headers[line.slice(0, at).toLowerCase()] = line.slice(at + 1).trim();
  }
  const m = /^HTTP\/(\S+) (\d+)/.exec(statusLine);
  return { status: Number(m?.[2] ?? 0), headers, body: rest.join('\r\n\r\n'), version: m?.[1] ?? '' };
}

/** A serial as Node gives it (upper case hex, maybe with leading zeros), as `presented` and certs.ts give it. */
const serialOf = (socket: TLSSocket): string =>
  socket
    .getPeerCertificate()
    .serialNumber.toUpperCase()
    .replace(/^0+(?=.)/, '');

/** A failure of handshakeSerial or httpsGet: `stage` says whether the handshake or the request after it failed. */
export class TlsClientError extends Error {
  constructor(
    readonly stage: 'handshake' | 'request',
    message: string,
  ) {
    super(`${stage}: ${message}`);
  }
}

/**
 * One full handshake by Node's TLS client (a new connection, no session resumed) with
 * `servername` as SNI, the certificate not verified: the serial of the leaf presented. Fast
 * enough to poll back to back.
 */
export function handshakeSerial(port: number, servername: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const serial = serialOf(socket);
      socket.destroy();
      resolve(serial);
    });
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
    socket.on('error', (error) => reject(new TlsClientError('handshake', error.message)));
  });
}

export interface HttpsAnswer {
  status: number;
  body: string;
  /** The serial of the leaf the server presented. */
  serial: string;
}

/**
 * One HTTPS GET by Node on a new connection (no agent, no keep-alive, no session resumed: every
 * request is a full handshake), to 127.0.0.1 with `servername` as SNI and Host. With `ca`, the
 * certificate must chain to it and name `servername`; without, it is not verified.
 */
export function httpsGet(port: number, servername: string, path = '/', ca?: string, timeoutMs = 5000): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    let shaken = false;
    const fail = (error: Error) => reject(error instanceof TlsClientError ? error : new TlsClientError(shaken ? 'request' : 'handshake', error.message));
    const req = https.get(
      { host: '127.0.0.1', port, path, servername, headers: { host: servername }, agent: false, ca, rejectUnauthorized: ca !== undefined, timeout: timeoutMs },
      (res) => {
        const serial = serialOf(res.socket as TLSSocket);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial }));
        res.on('error', fail);
      },
    );
    req.on('socket', (socket) => socket.once('secureConnect', () => (shaken = true)));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', fail);
  });
}
