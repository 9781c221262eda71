import type { BackendChanges } from './config-diff.js';
import { runtimeLine, type ExpectedBackend, type ExpectedServer, type ExpectedState } from './expected-state.js';
import { ADMIN, type LiveServer, type LiveState } from './live-state.js';
import { sameEntries, type MapEntry } from './map-file.js';
import { applyAtRuntime } from './runtime.js';
import type { RuntimeChannel } from './runtime-channel.js';
import { applyMaps, type MapChange } from './runtime-maps.js';
import { ServerIds } from './server-ids.js';
import { shown } from '../values/shown.js';

export type { ExpectedState } from './expected-state.js';
export type { LiveState } from './live-state.js';

/**
 * How the running HAProxy differs from its config (`found`: one line per difference, for the
 * log), and how to put it right: the runtime changes a store change would make, or why only a
 * reload can (the first thing the runtime API cannot set right).
 */
export type Drift =
  { kind: 'none' } | { kind: 'runtime'; found: string[]; backends: BackendChanges[]; maps: MapChange[] } | { kind: 'reload'; found: string[]; reason: string };

interface Findings {
  found: string[];
  /** What only a reload sets right. */
  reload: string[];
}

/**
 * Compares what HAProxy runs with what its config says: backends there or not; per server its
 * address, weight and admin state — forced maintenance or drain where the file does not say
 * `disabled`, no maintenance where it does (a server DOWN by its health check is no drift); map
 * entries, in order (a `map_beg` takes the first match). Pure.
 */
export function driftOf(expected: ExpectedState, live: LiveState): Drift {
  const out: Findings = { found: [], reload: [] };
  const backends: BackendChanges[] = [];
  for (const b of expected.backends.values()) {
    if (!live.backends.has(b.name)) {
      out.found.push(`backend ${shown(b.name)} is missing`);
      out.reload.push(`backend ${shown(b.name)} is missing`);
    } else if (!b.unverifiable) {
      const changes = backendDrift(b, live.servers.get(b.name) ?? new Map<string, LiveServer>(), out);
      if (changes) backends.push(changes);
    }
  }
  for (const name of live.backends) {
    if (expected.backends.has(name)) continue;
    out.found.push(`backend ${shown(name)} is not in the config`);
    out.reload.push(`backend ${shown(name)} is not in the config`);
  }
  const maps = mapsDrift(expected, live, out);
  if (out.found.length === 0) return { kind: 'none' };
  if (out.reload.length > 0) return { kind: 'reload', found: out.found, reason: out.reload[0]! };
  return { kind: 'runtime', found: out.found, backends, maps };
}

/** The differences in one backend, as runtime changes (none: undefined); what the runtime API cannot set right goes to `out.reload`. */
function backendDrift(b: ExpectedBackend, running: ReadonlyMap<string, LiveServer>, out: Findings): BackendChanges | undefined {
  const changes: BackendChanges = { backend: b.name, added: [], removed: [], moved: [], shaped: [] };
  // Names HAProxy gives back may be anyone's (a server added by hand): shortened, as logs show keys.
  const id = (name: string) => `${shown(b.name)}/${shown(name)}`;
  for (const s of b.servers.values()) {
    const r = running.get(s.name);
    const { moved, shaped } = r ? serverDrift(s, r) : { moved: undefined, shaped: [] };
    const problems = r ? [...(moved ? [moved] : []), ...shaped] : ['is missing'];
    if (problems.length === 0) continue;
    out.found.push(...problems.map((p) => `${id(s.name)} ${p}`));
    const line = runtimeLine(b, s);
    if (typeof line === 'string') out.reload.push(`${id(s.name)} ${problems[0]} and cannot be set right at runtime: ${line}`);
    else if (!r && b.fixed) out.reload.push(`${id(s.name)} is missing and backend ${shown(b.name)} takes no servers at runtime: ${b.fixed}`);
    else if (!r) changes.added.push(line);
    else {
      if (moved) changes.moved.push({ from: { ...line, host: r.addr, port: r.port }, to: line });
      if (shaped.length > 0) changes.shaped!.push(line);
    }
  }
  for (const [name, r] of running) {
    if (b.servers.has(name)) continue;
    out.found.push(`${id(name)} is not in the config`);
    if (b.fixed) out.reload.push(`${id(name)} is not in the config and backend ${shown(b.name)} takes no servers at runtime: ${b.fixed}`);
    else changes.removed.push({ name, host: r.addr, port: r.port, options: [] });
  }
  if (changes.shaped!.length === 0) delete changes.shaped;
  const any = changes.added.length + changes.removed.length + changes.moved.length + (changes.shaped?.length ?? 0);
  return any > 0 ? changes : undefined;
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** How one server differs: its address (set right by `set server … addr`), its admin state and weight (by `set server … weight / state`). */
function serverDrift(s: ExpectedServer, r: LiveServer): { moved?: string; shaped: string[] } {
  // An agent check drains a server, puts it in maintenance or sets it ready: HAProxy runs as its agent says.
  const admin = s.agent ? undefined : adminDrift(s, r);
  const shaped = admin ? [admin] : [];
  if (s.weight !== undefined && r.weight !== s.weight) shaped.push(`has weight ${r.weight}, not ${s.weight}`);
  const at = s.address;
  if (!at || (r.addr === at.host && r.port === at.port)) return { shaped };
  return { moved: `is at ${hostPort(r.addr, r.port)}, not ${hostPort(at.host, at.port)}`, shaped };
}

/** Forced maintenance or drain where the file does not say `disabled`, or none where it does. */
function adminDrift(s: ExpectedServer, r: LiveServer): string | undefined {
  if (s.disabled) return r.admin & ADMIN.FMAINT ? undefined : 'is not in maintenance';
  if (r.admin & ADMIN.FMAINT) return 'is in maintenance';
  return r.admin & ADMIN.FDRAIN ? 'is draining' : undefined;
}

/** Maps whose entries differ: each to be swapped whole. */
function mapsDrift(expected: ExpectedState, live: LiveState, out: Findings): MapChange[] {
  const changes: MapChange[] = [];
  for (const [path, entries] of expected.maps) {
    const running = live.maps.get(path);
    if (!running) {
      out.found.push(`${path} is not loaded by HAProxy`);
      out.reload.push(`${path} is not loaded by HAProxy`);
      continue;
    }
    const difference = mapDifference(entries, running);
    if (!difference) continue;
    out.found.push(`${path}: ${difference}`);
    changes.push({ path, entries });
  }
  return changes;
}

/** How many keys map to other values (or are missing, or extra), or that the same entries are in another order; undefined when equal. */
function mapDifference(want: readonly MapEntry[], have: readonly MapEntry[]): string | undefined {
  if (sameEntries(want, have)) return undefined;
  const byKey = (entries: readonly MapEntry[]) => {
    const values = new Map<string, string[]>();
    for (const [key, value] of entries) values.set(key, [...(values.get(key) ?? []), value]);
    return values;
  };
  const [a, b] = [byKey(want), byKey(have)];
  const keys = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k)?.join('\n') !== b.get(k)?.join('\n'));
  if (keys.length === 0) return 'its entries are in another order';
  return `${keys.length} ${keys.length === 1 ? 'entry differs' : 'entries differ'} (${keys.slice(0, 3).map(shown).join(', ')}${keys.length > 3 ? ', …' : ''})`;
}

/** How many differences a log line or /healthz names: the rest are counted. */
export const NAMED_DIFFERENCES = 10;

/** The differences in one line for the log: all of them up to `max`, then how many more. */
export function describeDrift(found: readonly string[], max = NAMED_DIFFERENCES): string {
  const more = found.length > max ? `; … and ${found.length - max} more` : '';
  return `${found.length} ${found.length === 1 ? 'difference' : 'differences'}: ${found.slice(0, max).join('; ')}${more}`;
}

/**
 * Puts right what `driftOf` found, through the runtime API, as a store change would go (servers
 * added, moved, reshaped, maps swapped, then extra servers drained and deleted), each step read
 * back and compared. `ids` should be the caller's, so servers it adds later get other ids.
 * Throws RUNTIME_REFUSED: then only a reload sets HAProxy right.
 */
export async function correctDrift(
  channel: RuntimeChannel,
  drift: Extract<Drift, { kind: 'runtime' }>,
  drainTimeoutMs: number,
  ids = new ServerIds(),
): Promise<void> {
  await applyAtRuntime(channel, drift.backends, drainTimeoutMs, ids, () => applyMaps(channel, drift.maps));
}
