import { httpsGet, TlsClientError } from './tls-client.js';

/** A name the load asks for: the SNI and Host it sends, and the body (the backend's name) every answer must carry. */
export interface HttpsTarget {
  name: string;
  body: string;
}

export interface HttpsLoadStats {
  ok: number;
  /** A handshake refused, reset or timed out (before any request went). */
  failedHandshakes: number;
  /** A request after a handshake that failed, or answered with anything but a 200 from the right backend. */
  failedRequests: number;
  /** Why, counted, each with the name it happened on. */
  reasons: Map<string, number>;
  /** Per name, every serial it was presented. */
  serials: Map<string, Set<string>>;
}

/**
 * `concurrency` clients, each going round `targets`, an HTTPS request on a new connection each
 * time (so every request is a full handshake), until stopped. With `ca`, every certificate must
 * chain to it and name the target.
 */
export function httpsLoad(port: number, targets: readonly HttpsTarget[], concurrency = 4, ca?: string) {
  let running = true;
  const stats: HttpsLoadStats = {
    ok: 0,
    failedHandshakes: 0,
    failedRequests: 0,
    reasons: new Map(),
    serials: new Map(targets.map((t) => [t.name, new Set()])),
  };
  const failed = (kind: 'failedHandshakes' | 'failedRequests', why: string) => {
    stats[kind] += 1;
    stats.reasons.set(why, (stats.reasons.get(why) ?? 0) + 1);
  };
  const loops = Array.from({ length: concurrency }, async (_, client) => {
    for (let i = client; running; i++) {
      const { name, body } = targets[i % targets.length]!;
      try {
        const answer = await httpsGet(port, name, '/', ca);
        stats.serials.get(name)!.add(answer.serial);
        if (answer.status === 200 && answer.body === body) stats.ok += 1;
        else failed('failedRequests', `HTTP ${answer.status} ${answer.body.slice(0, 40)} for ${name}`);
      } catch (error) {
        const stage = error instanceof TlsClientError ? error.stage : 'request';
        failed(stage === 'handshake' ? 'failedHandshakes' : 'failedRequests', `${(error as Error).message} for ${name}`);
      }
    }
  });
  return {
    stats,
    /** The failures so far, in a few words. */
    describe: () => [...stats.reasons].map(([why, n]) => `${n} × ${why}`).join('; '),
    async stop(): Promise<HttpsLoadStats> {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}
