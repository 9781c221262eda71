import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { namesServed } from './backends.js';
import { EtcdCluster } from './etcd-cluster.js';
import { waitFor } from './haproxy-process.js';
import { PREFIX, useWatchRig } from './watch-rig.js';
import type { WatchProcess } from './watch-process.js';

/** What a watch was serving with before a fault: the process and HAProxy's workers, to show after it that neither changed. */
export interface Before {
  watch: WatchProcess;
  pid: number;
  workers: number[];
}

/** What the tests read of /healthz?format=json. */
export interface HealthDocument {
  store?: { up?: boolean; endpoints?: { inUse: string; answering: number; endpoints: Array<{ endpoint: string; up?: boolean }>; failovers: number } | null };
}

/**
 * The watch rig (test/support/watch-rig.ts) on a real three-member etcd cluster shared by the tests
 * of a file (one start, ~2 s): before each test the prefix is emptied, after each the cluster is
 * put back together (members restarted, woken, rejoined) whatever the test did or where it failed.
 */
export function useClusterRig({ partitionable = false } = {}) {
  const rig = useWatchRig();
  let cluster: EtcdCluster | undefined;
  beforeAll(async () => {
    cluster = await new EtcdCluster().start(3, { partitionable });
  }, 60_000);
  afterAll(() => cluster?.stop());
  beforeEach(() => cluster!.deletePrefix(PREFIX));
  afterEach(() => cluster?.restore(), 60_000);

  const helpers = {
    rig,
    get cluster(): EtcdCluster {
      return cluster!;
    },

    /** Server `name` (a backend of the rig: 0 is a) written under the prefix as soon as the cluster takes writes (within `timeoutMs`). */
    write: async (name: string, backend: number, timeoutMs = 20_000): Promise<void> => {
      await cluster!.putSoon(`${PREFIX}/${name}`, rig.address(backend), timeoutMs);
    },

    remove: async (name: string, timeoutMs = 20_000): Promise<void> => {
      await waitFor(`a member to take the delete of ${name}`, () => cluster!.delete(`${PREFIX}/${name}`).then(() => true), timeoutMs);
    },

    /** Starts watch on every member (the first, member 0, in use) with `servers` written first, and waits until HAProxy serves them. */
    serving: async (servers: Record<string, number>, extra: string[] = []): Promise<Before> => {
      for (const [name, backend] of Object.entries(servers)) await helpers.write(name, backend);
      const watch = rig.startWatch(cluster!.url, extra);
      await rig.servedBy(Object.values(servers).map((b) => rig.backends[b]!.name));
      return { watch, pid: watch.child.pid!, workers: await rig.workers(watch) };
    },

    /** Waits until requests through HAProxy reach exactly these backends, at the latest at `deadline` (performance.now()). */
    servedBy: (names: string[], deadline: number, why: string) =>
      waitFor(
        `HAProxy to serve exactly ${names.join(', ')} ${why}`,
        async () => {
          const seen = new Set(await namesServed(rig.ports.frontend, 8));
          return names.length === seen.size && names.every((n) => seen.has(n));
        },
        Math.max(0, deadline - performance.now()),
      ),

    /** The same watch runs, HAProxy kept its workers, and nothing reloaded it: the change went through the runtime API. */
    unchanged: async (before: Before): Promise<void> => {
      expect(before.watch.child.exitCode).toBeNull();
      expect(before.watch.child.pid).toBe(before.pid);
      expect(await rig.workers(before.watch)).toEqual(before.workers);
      expect(await rig.metric('reloads_total')).toBe(0);
    },

    /**
     * A fault of the member in use (0) while another leads: a change written through the others is
     * served within `withinMs` of it, with no restart and no reload; once it is undone and the
     * member is healthy, a later change is still served, and nothing goes back.
     */
    survives: async (fault: () => void, undo: () => void, withinMs: number, what: string): Promise<void> => {
      await cluster!.moveLeader(1);
      const before = await helpers.serving({ one: 0 });
      const at = performance.now();
      fault();
      await helpers.write('two', 1);
      await helpers.servedBy(['a', 'b'], at + withinMs, `within ${withinMs / 1000} s of ${what}`);
      await helpers.unchanged(before);
      undo();
      await cluster!.waitHealthy(0);
      await helpers.write('three', 2);
      await helpers.servedBy(['a', 'b', 'c'], performance.now() + 5000, `once ${what} was undone`);
      await helpers.unchanged(before);
    },

    /** /healthz?format=json. */
    health: async (): Promise<HealthDocument> => JSON.parse((await rig.status('/healthz?format=json')).body) as HealthDocument,
  };
  return helpers;
}
