import { sameEntries, shownEntries, type MapEntry } from './map-file.js';
import { expectAll, runtimeCommand, runtimeRefused, RUNTIME_PAYLOAD_BYTES, said, type RuntimeChannel } from './runtime-channel.js';

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
 * `payloads`); the new version must list exactly the entries (`show map @V`) before it is
 * committed, so no request ever reads one HAProxy filled in part. Throws RUNTIME_REFUSED.
 */
export async function applyMaps(channel: RuntimeChannel, maps: readonly MapChange[]): Promise<void> {
  // A swap's commands go one after another: through one connection where the channel offers it.
  if (channel.session && maps.length > 0) return channel.session((inSession) => swapMaps(inSession, maps));
  return swapMaps(channel, maps);
}

async function swapMaps(channel: RuntimeChannel, maps: readonly MapChange[]): Promise<void> {
  for (const map of maps) {
    const answer = said(await channel.send(runtimeCommand('prepare', 'map', map.path)));
    const version = VERSION.exec(answer[0] ?? '')?.[1];
    if (!version) throw runtimeRefused(`HAProxy refused "prepare map ${map.path}": ${answer.join(' ') || 'no answer'}`);
    const at = `@${version}`;
    const add = runtimeCommand('add', 'map', at, map.path);
    for (const payload of payloads(
      map.entries.map((entry) => runtimeCommand(entry[0], entry[1])),
      RUNTIME_PAYLOAD_BYTES - add.length,
    )) {
      const reply = await channel.sendPayload(add, payload, 'map');
      // HAProxy answers every command, if only with an empty line; nothing at all is a payload it dropped.
      if (reply === '') throw runtimeRefused(`HAProxy dropped a payload filling ${map.path} with no answer (larger than its CLI buffer, tune.bufsize?)`);
      const refused = said(reply);
      if (refused.length > 0) throw runtimeRefused(`HAProxy refused to fill a new version of ${map.path}: ${refused.slice(0, 3).join(' | ')}`);
    }
    await verifyMap(channel, map, at);
    await expectAll(channel, [runtimeCommand('commit', 'map', at, map.path)], /^$/, 0, `commit ${map.path}`);
  }
}

/**
 * A map's entry lines (`KEY VALUE`) in payloads of at most `budget` bytes each (what the CLI's
 * buffer holds beside the command): the master CLI forwards each command of a batch to the worker
 * on its own (101 `add map` took 18 ms through it at 100 apps, against 2 ms on an admin socket,
 * measured), and a payload whole.
 */
export function payloads(lines: readonly string[], budget = RUNTIME_PAYLOAD_BYTES): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of lines) {
    if (current && current.length + line.length + 1 > budget) {
      out.push(current);
      current = '';
    }
    current += current ? `\n${line}` : line;
  }
  if (current) out.push(current);
  return out;
}

/** `show map @V FILE` (the version filled, not committed yet) must list the entries asked for, each once, and nothing else. */
async function verifyMap(channel: RuntimeChannel, map: MapChange, at: string): Promise<void> {
  const shown = shownEntries(await channel.send(runtimeCommand('show', 'map', at, map.path)));
  // HAProxy lists a version's entries in the order they were added: compared so first, sorted only when that differs.
  if (sameEntries(shown, map.entries)) return;
  const line = (entry: MapEntry) => `${entry[0]} ${entry[1]}`;
  const want = map.entries.map(line).sort();
  const have = shown.map(line).sort();
  if (want.join('\n') === have.join('\n')) return;
  const missing = want.filter((l) => !have.includes(l));
  const extra = have.filter((l) => !want.includes(l));
  throw runtimeRefused(
    `the new version of ${map.path} is not as asked: ${[...missing.slice(0, 3).map((l) => `missing "${l}"`), ...extra.slice(0, 3).map((l) => `unexpected "${l}"`)].join('; ') || 'entries differ'}`,
  );
}
