import { describe, expect, it } from 'vitest';
import { useClusterRig } from '../support/cluster-rig.js';
import { waitFor } from '../support/haproxy-process.js';

/*
 * A real three-member etcd cluster whose members each run in a network namespace of their own
 * (test/support/etcd-netns.ts), under `occs-lb watch --kv etcd://m0,m1,m2` with a real HAProxy:
 * member 0, the one watch uses at start, is cut off from its peers while its client port still
 * answers; then quorum is lost and restored. As in etcd-cluster-faults.test.ts: the change is
 * served by the same watch, with the same HAProxy worker, nothing lost, within the goals
 * (a partition: the probe interval, 12 s, plus its timeout, 2.5 s, and 1 s for the move and the change
 * to get through; quorum back: 2 s after a write goes through).
 */

const c = useClusterRig({ partitionable: true });
const LONG = 60_000;

describe('a cut-off member and a lost quorum, under watch', () => {
  it(
    'the member in use is cut off from its peers (its client port still answers): a change written through the others is served within 16 s',
    // Healed, the member comes back with a higher term and the cluster elects again (etcd 3.4 has
    // no pre-vote by default): changes are still served, and nothing goes back.
    () =>
      c.survives(
        () => c.cluster.partition(0),
        () => c.cluster.heal(0),
        16_000,
        'the partition',
      ),
    LONG,
  );

  it(
    'quorum is lost (two members stopped) and restored: a change written once the cluster takes writes is served within 2 s',
    async () => {
      const before = await c.serving({ one: 0 });
      const from = before.watch.logs.length;
      const lost = performance.now();
      await c.cluster.stopMembers([1, 2]);
      // Watch sees the store cannot serve (a probe interval plus a timeout), and keeps serving the last config.
      const told = () => before.watch.logs.slice(from).map((l) => `${l.level}: ${l.msg.slice(0, 200)}`);
      await waitFor(
        '/healthz to say the store is down',
        async () => (await c.health()).store?.up === false,
        Math.max(0, lost + 20_000 - performance.now()),
      ).catch((error: Error) => {
        throw new Error(`${error.message}; since quorum was lost, watch logged:\n${told().join('\n')}`);
      });
      // Member 0, the one in use, runs on alone: it takes no write (etcd answers only after its 7 s timeout).
      await expect(c.cluster.put('/occs-lb-test/impossible', 'x')).rejects.toThrow(/no member took/);
      // ...and watch still says so: a member without quorum is no store that answers, whatever a new stream on it says.
      expect((await c.health()).store?.up).toBe(false);
      expect(told().filter((l) => /reachable again/.test(l))).toEqual([]);
      await c.servedBy(['a'], performance.now() + 1000, 'while the store is down');
      c.cluster.restart(1);
      c.cluster.restart(2);
      await c.write('two', 1); // once the members agree on a leader
      await c.servedBy(['a', 'b'], performance.now() + 2000, 'within 2 s of the first write after quorum came back');
      await c.unchanged(before);
    },
    LONG,
  );
});
