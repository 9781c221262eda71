import { shownEntries, type MapEntry } from './map-file.js';
import { RUNTIME_PAYLOAD_BYTES } from './runtime-certs.js';
import { expectAll, runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';

/** A map file whose entries changed: what HAProxy must hold for it. */
export interface MapChange {
  path: string;
  entries: readonly MapEntry[];
}

const VERSION = /^New version created: (\d+)$/;

/**
 * Swaps each map whole, as one step for requests: `prepare map` makes a new, empty version,
 * `add map @V` fills it with every entry, and `commit map @V` makes it the one requests read. No
 * request ever sees half a change (a route moving from one app to another is never missing), and
 * the map ends as the file says whatever it held before. The entries go as payloads (see
 * `payloads`). Then `show map` must list exactly the entries. Throws RUNTIME_REFUSED.
 */
export async function applyMaps(channel: RuntimeChannel, maps: readonly MapChange[]): Promise<void> {
  for (const map of maps) {
    const answer = said(await channel.send(runtimeCommand('prepare', 'map', map.path)));
    const version = VERSION.exec(answer[0] ?? '')?.[1];
    if (!version) throw runtimeRefused(`HAProxy refused "prepare map ${map.path}": ${answer.join(' ') || 'no answer'}`);
    const at = `@${version}`;
    for (const payload of payloads(map.entries.map(([key, value]) => runtimeCommand(key, value)))) {
      const refused = said(await channel.sendPayload(runtimeCommand('add', 'map', at, map.path), payload, 'map'));
      if (refused.length > 0) throw runtimeRefused(`HAProxy refused to fill a new version of ${map.path}: ${refused.slice(0, 3).join(' | ')}`);
    }
    await expectAll(channel, [runtimeCommand('commit', 'map', at, map.path)], /^$/, 0, `commit ${map.path}`);
  }
  for (const map of maps) await verifyMap(channel, map);
}

/**
 * A map's entry lines (`KEY VALUE`) in payloads within RUNTIME_PAYLOAD_BYTES each: the master CLI
 * forwards each command of a batch to the worker on its own (101 `add map` took 18 ms through it
 * at 100 apps, against 2 ms on an admin socket, measured), and a payload whole.
 */
export function payloads(lines: readonly string[]): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > RUNTIME_PAYLOAD_BYTES) {
      out.push(current);
      current = '';
    }
    current += current ? `\n${line}` : line;
  }
  if (current) out.push(current);
  return out;
}

/** `show map FILE` must list the entries asked for, each once, and nothing else. */
async function verifyMap(channel: RuntimeChannel, map: MapChange): Promise<void> {
  const shown = shownEntries(await channel.send(runtimeCommand('show', 'map', map.path)));
  const line = ([key, value]: MapEntry) => `${key} ${value}`;
  const want = map.entries.map(line).sort();
  const have = shown.map(line).sort();
  if (want.join('\n') === have.join('\n')) return;
  const missing = want.filter((l) => !have.includes(l));
  const extra = have.filter((l) => !want.includes(l));
  throw runtimeRefused(
    `${map.path} is not as asked after the runtime change: ${[...missing.slice(0, 3).map((l) => `missing "${l}"`), ...extra.slice(0, 3).map((l) => `unexpected "${l}"`)].join('; ') || 'entries differ'}`,
  );
}
