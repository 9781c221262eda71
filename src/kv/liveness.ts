import { Backoff, sleep } from '../util/backoff.js';
import type { Endpoints } from './endpoints.js';

/**
 * How often the endpoint in use is asked a tiny question while long requests wait on it (watch
 * streams, blocking queries). A store that takes connections and then answers nothing looks just
 * like one with nothing new to say; so does an etcd member cut off from its peers, whose streams
 * stay open but fall silent. The probe tells them apart within this interval plus
 * PROBE_TIMEOUT_MS (14.5 s, and the move to the next endpoint: under the 15 s goal), at five
 * requests a minute for the whole source, whatever the prefixes.
 */
export const PROBE_INTERVAL_MS = 12_000;
/**
 * How long a probe may take (or --kv-timeout, when shorter). A probe is one tiny read: a member
 * that needs longer is in trouble, and the next one is asked.
 */
export const PROBE_TIMEOUT_MS = 2_500;
/**
 * How often one of the other endpoints (not the one in use) is asked whether it answers, each in
 * turn, so /healthz can say how many answer before the one in use fails. Under a request a minute.
 */
export const OTHERS_CHECK_MS = 90_000;

export interface ProbeLoop {
  /** One probe of the endpoint in use (moving to another when it cannot serve); throws when none can. */
  probe(signal: AbortSignal): Promise<void>;
  /** Asks one endpoint other than the one in use whether it answers (never throws). */
  checkOther?: (signal: AbortSignal) => Promise<void>;
  /** A probe was answered. */
  answered(): void;
  /** A probe failed on every endpoint. */
  failed(error: unknown): void;
  intervalMs?: number;
  othersMs?: number;
}

/**
 * Probes the store every interval, and checks the other endpoints now and then, until `signal`
 * aborts. After a failed probe the next comes with backoff (at most 2 s later), not an interval
 * later: a store that is back is noticed within seconds.
 */
export async function keepProbing(loop: ProbeLoop, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff();
  const probing = (async () => {
    let wait = loop.intervalMs ?? PROBE_INTERVAL_MS;
    while (!signal.aborted) {
      await sleep(wait, signal);
      if (signal.aborted) return;
      try {
        await loop.probe(signal);
        if (signal.aborted) return;
        backoff.reset();
        wait = loop.intervalMs ?? PROBE_INTERVAL_MS;
        loop.answered();
      } catch (error) {
        if (signal.aborted) return;
        wait = Math.min(backoff.next(), loop.intervalMs ?? PROBE_INTERVAL_MS);
        loop.failed(error);
      }
    }
  })();
  const checking = (async () => {
    const check = loop.checkOther;
    while (check && !signal.aborted) {
      await sleep(loop.othersMs ?? OTHERS_CHECK_MS, signal);
      if (!signal.aborted) await check(signal).catch(() => undefined);
    }
  })();
  await Promise.all([probing, checking]);
}

/**
 * After a failover every other endpoint is asked at once (`check` asks the next in turn), so
 * /healthz says how many answer now rather than up to OTHERS_CHECK_MS later. Returns the
 * function that stops it.
 */
export function checkOthersOnFailover(endpoints: Endpoints, check: (signal: AbortSignal) => Promise<void>, signal: AbortSignal): () => void {
  return endpoints.onFailover(() => {
    void (async () => {
      for (let i = 1; i < endpoints.size && !signal.aborted; i++) await check(signal).catch(() => undefined);
    })();
  });
}
