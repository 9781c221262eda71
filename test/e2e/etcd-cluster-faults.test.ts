import { describe, expect, it } from 'vitest';
import { useClusterRig } from '../support/cluster-rig.js';
import { waitFor } from '../support/haproxy-process.js';

/*
 * Faults of a real three-member etcd cluster under `occs-lb watch --kv etcd://m0,m1,m2` with a real
 * HAProxy: each test makes a change during or right after the fault and shows it served, by the
 * same watch, with the same HAProxy worker (a runtime change, no reload), and nothing lost. Member 0,
 * the first endpoint, is the one watch uses at start. One cluster for the file, restored after
 * each test. The deadlines are the goals: a member's death, 5 s; a hang, the probe interval
 * (12 s) plus its timeout (2.5 s), and 1 s for the move and the change to get through.
 */

const c = useClusterRig();
const LONG = 60_000;

describe('faults of a three-member etcd cluster, under watch', () => {
  it.each([
    ['the member in use', 0],
    ['another member', 1],
  ])(
    'the leader, %s, is killed (kill -9): a change written through the others is served within 5 s',
    async (_, leader) => {
      await c.cluster.moveLeader(leader);
      const before = await c.serving({ one: 0 });
      const killed = performance.now();
      await c.cluster.kill(leader);
      await c.write('two', 1); // as soon as the others have elected a leader
      await c.servedBy(['a', 'b'], killed + 5000, "within 5 s of the leader's death");
      await c.unchanged(before);
    },
    LONG,
  );

  it(
    'the member in use hangs (SIGSTOP): a change written through the others is served within 16 s, and after it wakes',
    // The goal: noticed within a probe interval plus its timeout (15 s); 1 s more for the move and the change itself.
    // The member wakes with its old streams and answers: nothing goes back to what it last said.
    () =>
      c.survives(
        () => c.cluster.pause(0),
        () => c.cluster.resume(0),
        16_000,
        'the hang',
      ),
    LONG,
  );

  it(
    'compaction during a fault: the history watch would resume from is compacted while the member in use is gone; the next one serves exactly the store',
    async () => {
      await c.cluster.moveLeader(1);
      const before = await c.serving({ one: 0, two: 1 });
      // Hung first, so watch cannot move on before the history it saw is compacted away: with a
      // plain kill -9 the stream breaks at once, and watch may be on the next member before the writes.
      // Compacted at the last write's revision, so the revision watch resumes from (just after the
      // last it saw) is gone: it must read the prefix again (checked once by hand: two range reads).
      c.cluster.pause(0);
      await c.write('three', 2);
      await c.remove('two');
      await c.write('four', 3);
      await c.cluster.compact();
      const killed = performance.now();
      await c.cluster.kill(0);
      await c.servedBy(['a', 'c', 'd'], killed + 5000, "within 5 s of the member's death (two added, one deleted, history compacted)");
      await c.unchanged(before);
    },
    LONG,
  );
});

/** `occs_lb_NAME{LABELS} VALUE` lines of /metrics, by their labels. */
async function labelled(name: string): Promise<Map<string, number>> {
  const body = (await c.rig.status('/metrics')).body;
  return new Map([...body.matchAll(new RegExp(`^occs_lb_${name}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map(([, labels, value]) => [labels!, Number(value)]));
}

describe('a failover, as a user sees it', () => {
  it(
    '/healthz names the endpoint in use and how many answer, the metrics count it, and one log line says from, to and why',
    async () => {
      await c.cluster.moveLeader(2);
      const before = await c.serving({ one: 0 });
      const [m0, m1, m2] = [0, 1, 2].map((i) => c.cluster.endpoint(i));
      await c.cluster.kill(0);
      await c.write('two', 1);
      await c.servedBy(['a', 'b'], performance.now() + 5000, "after the member in use's death");
      // After a failover every other member is asked at once: /healthz says 2 of 3 answer, not 1.
      const seen = await waitFor('/healthz to show the failover and the members that answer', async () => {
        const endpoints = (await c.health()).store?.endpoints;
        return endpoints && endpoints.inUse === m1 && endpoints.answering === 2 ? endpoints : undefined;
      });
      expect(seen).toMatchObject({
        inUse: m1,
        failovers: 1,
        endpoints: [
          { endpoint: m0, up: false },
          { endpoint: m1, up: true },
          { endpoint: m2, up: true },
        ],
      });

      const up = Object.fromEntries(await labelled('store_endpoint_up'));
      expect(up).toEqual({ [`endpoint="${m0}"`]: 0, [`endpoint="${m1}"`]: 1, [`endpoint="${m2}"`]: 1 });
      expect(await c.rig.metric('store_failovers_total')).toBe(1);

      const lines = before.watch.logs.flatMap((l) => {
        const said = /store endpoint (\S+) failed \((.+)\); moving to (\S+)/.exec(l.msg);
        return said ? [{ from: said[1], why: said[2], to: said[3] }] : [];
      });
      expect(lines).toEqual([{ from: m0, to: m1, why: expect.stringMatching(/\S/) }]);
      await c.unchanged(before);
    },
    LONG,
  );
});
