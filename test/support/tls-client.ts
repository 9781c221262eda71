import { execFile, spawn } from 'node:child_process';
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
