import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KvSnapshot, KvSource } from '../../src/kv/source.js';
import { failure } from '../support/failure.js';
import { waitFor } from '../support/haproxy-process.js';
import type { TcpProxy } from '../support/tcp-proxy.js';

/** What a store must offer the contract suite. Every store runs the same tests. */
export interface ContractHarness {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  put(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  /** The store goes away (killed, or its file removed) and comes back with its data. */
  goAway(): Promise<void>;
  comeBack(): Promise<void>;
  /** Writes while the store is away, where it can take them (the Consul test server, a file's data). */
  putWhileAway?(key: string, value: string): Promise<void>;
  deleteWhileAway?(key: string): Promise<void>;
  /**
   * Network stores: the sources reach the store through a proxy that can keep them cut off
   * after the store is back, so a change lands before they read again (as while they back off).
   */
  proxy?: TcpProxy;
  /** A source on the store; with `badCredentials`, one that holds wrong ones. */
  source(options?: { badCredentials?: boolean }): Promise<KvSource>;
  /** Whether the store checks credentials at all (a file does not). */
  checksCredentials: boolean;
  /**
   * A store of several endpoints: a source given all of them (the first in use first), and the
   * first stopped and started again. The suite follows a watch through a failover.
   */
  cluster?: {
    source(): Promise<KvSource>;
    stopFirst(): Promise<void>;
    startFirst(): Promise<void>;
  };
}

const ODD = 'odd: \u0001\t\n\r ;#$"\'\\ é ✓ 💥 \u2028 \u007f end';

/** A watch that records what it reports, stopped by `stop()`. */
function record(source: KvSource, prefixes: string[]) {
  const snapshots: KvSnapshot[] = [];
  const errors: unknown[] = [];
  const abort = new AbortController();
  const done = source.watch(prefixes, { snapshot: (s) => snapshots.push(s), alive: () => {}, error: (e) => errors.push(e) }, abort.signal);
  const keysOf = (s?: KvSnapshot) => s?.pairs.map((p) => `${p.key}=${p.value}`) ?? [];
  return {
    snapshots,
    errors,
    latest: () => keysOf(snapshots.at(-1)),
    /** Snapshots equal to the one before: a source reports only what differs from its last report. */
    repeats: () => snapshots.filter((s, i) => i > 0 && JSON.stringify(s) === JSON.stringify(snapshots[i - 1])).length,
    async stop() {
      abort.abort();
      await done;
    },
  };
}

/** The same behaviour from every source: consul/OCCS, etcd and file run this suite. */
export function describeKvContract(h: ContractHarness): void {
  describe(`KvSource contract: ${h.name}`, () => {
    let source: KvSource;
    let n = 0;
    const prefix = () => `contract/t${++n}`;

    beforeAll(async () => {
      await h.start();
      source = await h.source();
    }, 60_000);

    afterAll(async () => {
      await source?.close();
      await h.stop();
    });

    it('reads an empty prefix as no keys, not as an error', async () => {
      expect((await source.read([prefix()])).pairs).toEqual([]);
    });

    it('reads nested keys, normalised to /a/b/c and sorted; folder keys (ending in /) are not entries', async () => {
      const p = prefix();
      await h.put(`${p}/b/deep/er`, '2');
      await h.put(`${p}/a`, '1');
      await h.put(`${p}/folder/`, '');
      await h.put(`${p}x/sibling`, 'string prefix, as the store sees it');
      expect((await source.read([p])).pairs).toEqual([
        { key: `/${p}/a`, value: '1' },
        { key: `/${p}/b/deep/er`, value: '2' },
        { key: `/${p}x/sibling`, value: 'string prefix, as the store sees it' },
      ]);
    });

    it('keeps values exactly: odd bytes, and large values (1 MiB)', async () => {
      const p = prefix();
      const large = 'x'.repeat(1 << 20);
      await h.put(`${p}/odd`, ODD);
      await h.put(`${p}/large`, large);
      const byKey = new Map((await source.read([p])).pairs.map((pair) => [pair.key, pair.value]));
      expect(byKey.get(`/${p}/odd`)).toBe(ODD);
      expect(byKey.get(`/${p}/large`)).toBe(large);
    });

    it('reads 1,000 keys', async () => {
      const p = prefix();
      await Promise.all(Array.from({ length: 1000 }, (_, i) => h.put(`${p}/k${String(i).padStart(4, '0')}`, `10.0.${i >> 8}.${i & 255}:80`)));
      const pairs = (await source.read([p])).pairs;
      expect(pairs).toHaveLength(1000);
      expect(pairs[0]).toEqual({ key: `/${p}/k0000`, value: '10.0.0.0:80' });
      expect(pairs[999]).toEqual({ key: `/${p}/k0999`, value: '10.0.3.231:80' });
    });

    it('reports a change and a delete through watch', async () => {
      const p = prefix();
      await h.put(`${p}/one`, '1');
      const w = record(source, [p]);
      try {
        await waitFor('the first snapshot', () => w.latest().includes(`/${p}/one=1`));
        await h.put(`${p}/two`, '2');
        await waitFor('the change', () => w.latest().includes(`/${p}/two=2`));
        await h.delete(`${p}/one`);
        await waitFor('the delete', () => !w.latest().includes(`/${p}/one=1`) && w.latest().includes(`/${p}/two=2`));
      } finally {
        await w.stop();
      }
    });

    it('reports the store going away, and carries on when it comes back', async () => {
      const p = prefix();
      await h.put(`${p}/one`, '1');
      const w = record(source, [p]);
      try {
        await waitFor('the first snapshot', () => w.latest().includes(`/${p}/one=1`));
        await h.goAway();
        await waitFor('an error to be reported', () => w.errors.length > 0, 30_000);
        await h.comeBack();
        await h.put(`${p}/two`, '2');
        await waitFor('the store to be followed again', () => w.latest().includes(`/${p}/two=2`), 30_000);
        expect(w.latest()).toContain(`/${p}/one=1`);
      } finally {
        await w.stop();
      }
    });

    /**
     * Across an outage, what counts is the state last reported, not the last full read: these
     * changes bring the store back to what the watch first read, after events moved it on.
     */
    describe('loses no change across an outage', () => {
      /** The store goes away; `meanwhile` runs once it is back but before the source may reach it. */
      const outage = async (w: ReturnType<typeof record>, meanwhile: () => Promise<void>) => {
        const errors = w.errors.length;
        await h.proxy?.cut();
        await h.goAway();
        await waitFor('an error to be reported', () => w.errors.length > errors, 20_000);
        if (h.putWhileAway) await meanwhile();
        await h.comeBack();
        if (!h.putWhileAway) await meanwhile();
        await h.proxy?.start();
      };
      const change = (key: string, value: string) => (h.putWhileAway ?? h.put)(key, value);

      /** A recording watch of a new prefix whose first snapshot holds `one=1`; it never reports the same twice. */
      const watching = async (body: (p: string, w: ReturnType<typeof record>) => Promise<void>) => {
        const p = prefix();
        await h.put(`${p}/one`, '1');
        const w = record(source, [p]);
        try {
          await waitFor('the first snapshot', () => w.latest().includes(`/${p}/one=1`));
          await body(p, w);
          expect(w.repeats()).toBe(0);
        } finally {
          await w.stop();
        }
      };

      it("a change back to the first read's value, made while the source could not read", () =>
        watching(async (p, w) => {
          await h.put(`${p}/one`, '2');
          await waitFor('the change', () => w.latest().includes(`/${p}/one=2`));
          await outage(w, () => change(`${p}/one`, '1'));
          await waitFor('the change made during the outage', () => w.latest().join() === `/${p}/one=1`, 20_000);
        }));

      it('a delete, made while the source could not read, of a key the watch saw appear', () =>
        watching(async (p, w) => {
          await h.put(`${p}/two`, '2');
          await waitFor('the new key', () => w.latest().includes(`/${p}/two=2`));
          await outage(w, async () => (h.putWhileAway ? h.deleteWhileAway!(`${p}/two`) : h.delete(`${p}/two`)));
          await waitFor('the delete made during the outage', () => w.latest().join() === `/${p}/one=1`, 20_000);
        }));

      it('a key changed during the outage, then changed back after it', () =>
        watching(async (p, w) => {
          await outage(w, () => change(`${p}/one`, '2'));
          await waitFor('the change', () => w.latest().join() === `/${p}/one=2`, 20_000);
          await h.put(`${p}/one`, '1');
          await waitFor('the change back', () => w.latest().join() === `/${p}/one=1`, 20_000);
        }));
    });

    const cluster = h.cluster;
    if (cluster) {
      it('follows a cluster through a failover: the endpoint in use stops mid-watch, and what is written through the others is reported, with no error and nothing twice', async () => {
        const p = prefix();
        await h.put(`${p}/one`, '1');
        const clustered = await cluster.source();
        const w = record(clustered, [p]);
        try {
          await waitFor('the first snapshot', () => w.latest().includes(`/${p}/one=1`));
          await cluster.stopFirst();
          await h.put(`${p}/two`, '2');
          await waitFor('the change made after the failover', () => w.latest().includes(`/${p}/two=2`), 20_000);
          await h.delete(`${p}/one`);
          await waitFor('the delete', () => w.latest().join() === `/${p}/two=2`, 20_000);
          expect(w.errors).toEqual([]);
          expect(w.repeats()).toBe(0);
          expect((await clustered.read([p])).pairs).toEqual([{ key: `/${p}/two`, value: '2' }]);
        } finally {
          await w.stop();
          await clustered.close();
          await cluster.startFirst();
        }
      });
    }

    if (h.checksCredentials) {
      it('refuses bad credentials: exit 3, "unauthorised"', async () => {
        const bad = await h.source({ badCredentials: true });
        try {
          const error = await failure(bad.read([prefix()]));
          expect(error.exitCode).toBe(3);
          expect(error.code).toBe('KV_UNAUTHORISED');
          expect(error.message).toContain('unauthorised');
        } finally {
          await bad.close();
        }
      });
    }
  });
}
