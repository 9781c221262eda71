import { isIPv4, isIPv6 } from './ip.js';
import { invisibleCharacters } from './invisible.js';
import { looksNegative } from '../util/negative.js';

/** A server address that passed strict parsing: safe to print into haproxy.cfg or send to a socket. */
export interface ServerAddress {
  host: string;
  port: number;
  /** `host:port`, with IPv6 in brackets: the form HAProxy's `server` line takes. */
  address: string;
  /** True when host is a DNS name (the template adds `init-addr` so checks do not need DNS). */
  hostname: boolean;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

const HOSTNAME_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/** RFC 1123 host name: dot-separated labels, at most 253 characters, last label not all digits. */
export function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  if (!labels.every((label) => HOSTNAME_LABEL.test(label))) return false;
  return !/^\d+$/.test(labels[labels.length - 1]!);
}

/** Plain printable ASCII with none of the special characters: the common case, checked in one go. */
const PLAIN_WORD = /^[!%&()*+,\-./0-9:<=>?@A-Z[\]^_a-z{|}~]*$/;
const INVISIBLE = invisibleCharacters('u');

/** Why a value can never be a single config word, or undefined when it has none of those bytes. */
export function unsafeCharacterReason(value: string): string | undefined {
  if (PLAIN_WORD.test(value)) return undefined;
  if (/[\r\n\u2028\u2029\x85]/.test(value)) return 'contains a line break';
  if (/\p{Cc}/u.test(value)) return 'contains a control character';
  if (/\s/.test(value)) return 'contains whitespace';
  // Invisible on a screen, they make a config read differently from what HAProxy runs.
  const invisible = INVISIBLE.exec(value);
  if (invisible) return `contains the invisible character U+${invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  const special = /[#;$"'`\\]/.exec(value);
  if (special) return `contains '${special[0]}'`;
  return undefined;
}

export function parsePort(text: string): Parsed<number> {
  if (looksNegative(text)) return fail(`port "${text}" is negative: a port is from 1 to 65535`);
  if (!/^\d{1,5}$/.test(text)) return fail(`port "${text}" is not a whole number from 1 to 65535`);
  const port = Number(text);
  if (port < 1 || port > 65535) return fail(`port ${port} is outside 1-65535`);
  return { ok: true, value: port };
}

/** Parses `ipv4:port`, `[ipv6]:port` or `hostname:port`, refusing anything else. */
export function parseServerAddress(value: string): Parsed<ServerAddress> {
  if (value === '') return fail('value is empty');
  const unsafe = unsafeCharacterReason(value);
  if (unsafe) return fail(`value ${unsafe}`);

  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0 || value[close + 1] !== ':') return fail('expected [ipv6]:port');
    host = value.slice(1, close);
    portText = value.slice(close + 2);
    if (host.includes('%')) return fail('an IPv6 zone ("%interface") cannot be used in a server address');
    if (!isIPv6(host)) return fail(`"${host}" is not an IPv6 address`);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon < 0) return fail('missing ":port"');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) return fail('an IPv6 address needs brackets: [address]:port');
    if (!isIPv4(host) && !isHostname(host)) return fail(`"${host}" is not an IPv4 address or host name`);
  }
  const port = parsePort(portText);
  if (!port.ok) return port;
  const ipv6 = value.startsWith('[');
  return {
    ok: true,
    value: {
      host,
      port: port.value,
      address: ipv6 ? `[${host}]:${port.value}` : `${host}:${port.value}`,
      hostname: !ipv6 && !isIPv4(host),
    },
  };
}

/**
 * The longest app or server name taken. HAProxy 2.6 puts no cap on names in a config, but its CLI
 * reads a request in one buffer (tune.bufsize, 16 KiB), and so do the lines it writes back. As
 * measured on 2.6.12: `@1 add server b/NAME …` on the master CLI fails past 15,331 characters,
 * on the admin socket past 16,357, and there `show servers state` leaves out the line of a server
 * named with more than 16,326 and `show stat` with more than 16,177, so it cannot be verified.
 * 253 is the longest DNS name, so every host name and every Kubernetes object name (at most 253)
 * fits, as do Docker's container ids (64 characters); it is 60 times below those limits, which
 * leaves room for the backend's name (an app name, capped alike) and the rest of a command or line.
 */
export const MAX_NAME_LENGTH = 253;

const SERVER_NAME = /^[A-Za-z0-9._:-]+$/;

/** A name HAProxy takes everywhere (config, runtime API, read-back, stats, map files), as it is. */
export function isServerName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && SERVER_NAME.test(name);
}

/** Why a name is too long to be an app or server name, or undefined when it is not. */
export function nameTooLong(name: string): string | undefined {
  return name.length > MAX_NAME_LENGTH ? `is ${name.length} characters long, more than the ${MAX_NAME_LENGTH} a name may have` : undefined;
}

/** A server name HAProxy accepts, made from text of at most MAX_NAME_LENGTH: runs of other characters become `_`. */
export function toServerName(text: string): string {
  const mapped = text.replace(/[^A-Za-z0-9._:-]+/g, '_');
  return mapped === '' ? 'server' : mapped;
}
