import { isIPv4 } from '../values/ip.js';
import { isServerName, parseServerAddress } from '../values/server.js';
import { shown } from '../values/shown.js';

/** A `server` line of a backend, parsed strictly (anything odd makes the change need a reload). */
export interface ServerLine {
  name: string;
  host: string;
  port: number;
  /** The options after the address, as written (`check`, `weight 10`…). */
  options: string[];
}

/**
 * Server options that make a change need a reload, and why: refused by `add server` on 2.6, tying
 * a server to others, or accepted but not working as in a config file on 2.6.
 */
export const NOT_DYNAMIC = new Map<string, string>([
  ['init-addr', 'servers added at runtime cannot have it'],
  ['resolvers', 'servers added at runtime cannot have it'],
  ['track', 'servers added at runtime cannot have it'],
  ['agent-check', 'servers added at runtime cannot have it'],
  // `add server` refuses max-reuse, and leaves it at 0 on 2.6 (before 2.6.18 it copies no
  // defaults): HTTP/2 and FastCGI connections then carry one request each. proto/alpn may
  // select those.
  ['max-reuse', '`add server` refuses it'],
  ['proto', 'it may select HTTP/2 or FastCGI, which a server added at runtime on 2.6 limits to one request per connection'],
  ['alpn', 'it may select HTTP/2, which a server added at runtime on 2.6 limits to one request per connection'],
  // On 2.6.12 `enabled` makes an added server UP that still gets no traffic; watch enables servers itself.
  ['enabled', 'a server added at runtime with it gets no traffic on 2.6'],
  // Without the defaults copy, observe gets a zero error limit, and slowstart does not work for
  // servers added at runtime before 2.6.18.
  ['observe', 'a server added at runtime gets no error limits with it on 2.6'],
  ['slowstart', 'it does not work for servers added at runtime on 2.6'],
]);
/** What an option word may look like to be sent to the runtime API. */
const OPTION_WORD = /^[A-Za-z0-9._:/,-]+$/;

/** A server's options but its weight and `disabled`: what may not change at runtime. */
export function unshaped(options: readonly string[]): string {
  return options.filter((o, i) => o !== 'disabled' && o !== 'weight' && options[i - 1] !== 'weight').join(' ');
}

/** The weight a server line gives (HAProxy's default: 1). */
export const weightOf = (s: ServerLine): number => {
  const i = s.options.indexOf('weight');
  return i < 0 ? 1 : Number(s.options[i + 1]);
};

/** `server NAME ADDRESS [OPTIONS…]`, with every word held to what the runtime API may receive. */
export function parseServerLine(line: string): ServerLine | string {
  const [, name, address, ...options] = line.split(' ');
  if (!name || !isServerName(name)) return `server name ${JSON.stringify(name && shown(name))} cannot be sent to the runtime API`;
  const parsed = parseServerAddress(address ?? '');
  if (!parsed.ok) return `server ${name}: ${parsed.reason}`;
  if (!isIPv4(parsed.value.host) && !parsed.value.address.startsWith('[')) return `server ${name} is given by host name (runtime servers need an IP address)`;
  for (const option of options) {
    if (!OPTION_WORD.test(option)) return `server ${name} has an option ${JSON.stringify(option)} that cannot be sent to the runtime API`;
    const why = NOT_DYNAMIC.get(option);
    if (why) return `server ${name} uses "${option}" and needs a reload: ${why}`;
  }
  return { name, host: parsed.value.host, port: parsed.value.port, options };
}

/**
 * An address as HAProxy prints it back (inet_ntop): IPv6 in its shortest, lower-case form, but an
 * IPv4-mapped or IPv4-compatible one with its last 32 bits dotted (`::ffff:10.0.0.1`), or a
 * server at one would differ from itself on every look.
 */
export function canonicalHost(host: string): string {
  if (!host.includes(':')) return host;
  const shortest = new URL(`http://[${host}]/`).hostname.slice(1, -1);
  const [head = '', tail = ''] = shortest.split('::');
  if (head !== '' || !shortest.includes('::')) return shortest;
  // Leading zeros only: `::ffff:a:b` (mapped) or `::a:b` with a not 0 (compatible) end in an IPv4 address.
  const words = tail.split(':').map((w) => parseInt(w, 16));
  const mapped = words.length === 3 && words[0] === 0xffff;
  if (!mapped && !(words.length === 2 && words[0] !== 0)) return shortest;
  const [high = 0, low = 0] = words.slice(-2);
  return `::${mapped ? 'ffff:' : ''}${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}
