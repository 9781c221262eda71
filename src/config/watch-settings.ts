import { parseDuration } from '../util/duration.js';
import { isIP } from '../values/ip.js';
import { parsePort } from '../values/server.js';
import { durationSetting, invalid, LONGEST_WAIT_MS, pick, type Layers } from './layers.js';
import type { Flags, WatchSettings } from './types.js';

/**
 * The default quiescence window, 200ms:2s. A deploy registers its containers within moments of
 * each other, and watch queries the store at most every 100 ms; 200 ms of quiet, twice that
 * floor, turns such a burst into one reload instead of one per query, while adding little to a
 * single change (confd polled every 5 s). Under constant churn, 2 s caps the delay and holds
 * reloads to about one every two seconds, each of which leaves an old worker draining its
 * connections.
 */
export const DEFAULT_WAIT = '200ms:2s';

/** --interval's floor: the gap a store's queries keep at least (kv/consul-loop.ts). */
const MIN_INTERVAL_MS = 100;

/** `MIN[:MAX]`, durations; MAX defaults to 4 × MIN, as in consul-template. */
export function parseWait(text: string): { minMs: number; maxMs: number } | undefined {
  const [minText, maxText, extra] = text.split(':');
  if (extra !== undefined || minText === undefined) return undefined;
  const minMs = parseDuration(minText);
  const maxMs = maxText === undefined ? (minMs ?? 0) * 4 : parseDuration(maxText);
  if (minMs === undefined || maxMs === undefined || maxMs < minMs || maxMs > LONGEST_WAIT_MS) return undefined;
  return { minMs, maxMs };
}

/** Why a --wait value is refused. */
function waitProblem(text: string): string {
  const [minText, maxText] = text.split(':');
  const [minMs, maxMs] = [parseDuration(minText ?? ''), parseDuration(maxText ?? '')];
  if (minMs !== undefined && maxMs !== undefined && maxMs < minMs) return `"${text}": MAX (${maxText}) is below MIN (${minText})`;
  if (Math.max(minMs ?? 0, maxMs ?? 0) * (maxText === undefined ? 4 : 1) > LONGEST_WAIT_MS)
    return `"${text}" is longer than 24 days, the longest wait a timer takes`;
  return `"${text}" is not MIN[:MAX], e.g. 200ms:2s, 1s:1m30s or 0`;
}

/** Drift is looked for every 30 s: at 10,000 servers a look costs about 25 ms (npm run bench -- drift). */
const DEFAULT_VERIFY_MS = 30_000;

export function resolveWatch(flags: Flags, from: Layers): WatchSettings {
  const waitChoice = pick<string>(from.flag('wait', flags.wait), from.file('wait'));
  const wait = parseWait(waitChoice?.value ?? DEFAULT_WAIT);
  if (!wait) throw invalid(waitChoice!.from, waitProblem(waitChoice!.value));

  const interval = pick<string | number>(from.flag('interval', flags.interval), from.file('interval'));
  // Polling faster than the floor between a store's queries (DESIGN: ~100 ms) is refused.
  const intervalMs = interval ? durationSetting(interval, 0, '5s', MIN_INTERVAL_MS) : undefined;

  const stop = pick<string | number>(from.flag('stop-timeout', flags.stopTimeout), from.file('stopTimeout'));
  // 8 s: the soft stop ends before `docker stop` (10 s) would kill watch itself.
  const stopTimeoutMs = durationSetting(stop, 8_000, '10s', 1);

  const listen = pick(from.flag('listen', flags.listen), from.file('listen'));
  const listenAt = listen && parseListen(listen.value, listen.from);
  const shutdownDelayMs = durationSetting(pick<string | number>(from.flag('shutdown-delay', flags.shutdownDelay), from.file('shutdownDelay')), 0, '5s');
  const exec = pick(from.flag('exec', flags.exec), from.file('exec'));
  const drain = pick<string | number>(from.flag('drain-timeout', flags.drainTimeout), from.file('drainTimeout'));
  const drainTimeoutMs = durationSetting(drain, 5_000, '5s');
  // commander's --no-runtime-api makes the flag true unless given, so only false is a choice,
  // or a value its variable gave (OCCS_LB_RUNTIME_API=true wins over the config file).
  const chosen = flags.runtimeApi === false || from.fromEnvironment('runtime-api');
  const runtimeApi = chosen ? flags.runtimeApi !== false : (from.file('runtimeApi')?.value ?? true);
  const verify = pick<string | number>(from.flag('verify-interval', flags.verifyInterval), from.file('verifyInterval'));
  const verifyIntervalMs = durationSetting(verify, DEFAULT_VERIFY_MS, '30s');
  const allowEmpty = pick<boolean>(from.flag('allow-empty', flags.allowEmpty), from.file('allowEmpty'))?.value ?? false;
  return {
    waitMinMs: wait.minMs,
    waitMaxMs: wait.maxMs,
    intervalMs,
    exec: exec?.value,
    listen: listenAt,
    stopTimeoutMs,
    shutdownDelayMs,
    runtimeApi,
    drainTimeoutMs,
    verifyIntervalMs,
    allowEmpty,
  };
}

/**
 * `HOST:PORT` of the status listener: an IP address (`[::1]` in brackets) or localhost, or no
 * host at all (`:9180`) for every address, as a kubelet's probes need in a pod.
 */
function parseListen(text: string, from: string): NonNullable<WatchSettings['listen']> {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = match ? parsePort(match[3]!) : undefined;
  if (host === undefined || !port?.ok || !(host === '' || isIP(host) || host === 'localhost')) {
    throw invalid(
      from,
      `"${text}" is not HOST:PORT with an IP address, e.g. 127.0.0.1:9180, [::1]:9180 (an IPv6 address in brackets), or :9180 for every address`,
    );
  }
  return { host, port: port.value };
}
