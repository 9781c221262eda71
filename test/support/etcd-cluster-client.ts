import { waitFor } from './haproxy-process.js';
import { prefixEnd as rangeEnd } from '../../src/kv/etcd-keys.js';

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
/** How long the test's own requests to one member may take: a hung member must not hang the test. */
const REQUEST_MS = 3000;

/** The fields of etcd's JSON answers a test reads. */
interface EtcdAnswer {
  header?: { revision?: string; member_id?: string };
  leader?: string;
  health?: string;
}

/** The first key after every key starting with `prefix` (etcd's range_end), base64. */
const prefixEnd = (prefix: string): string => rangeEnd(Buffer.from(prefix, 'utf8')).toString('base64');

/**
 * What a test asks of an etcd cluster through its members' JSON gateways: writes through any member
 * that takes them, compaction, who leads. The cluster says which members can be asked (a hung or
 * cut-off member is not: it would hang the test, or answer only after etcd's own 7 s timeout).
 */
export abstract class EtcdClusterClient {
  /** Member `i`'s client URL, as occs-lb names an endpoint (`http://host:port`). */
  abstract endpoint(i: number): string;
  /** The members a test's request may go to. */
  protected abstract reachable(): number[];

  /** One JSON request to member `i` (POST unless `method`); undefined when it does not answer 200 within 3 s. */
  protected async call(i: number, path: string, body?: object, method = 'POST'): Promise<EtcdAnswer | undefined> {
    const answer = await fetch(`${this.endpoint(i)}${path}`, { method, body: body && JSON.stringify(body), signal: AbortSignal.timeout(REQUEST_MS) }).catch(
      () => undefined,
    );
    if (!answer?.ok) return undefined;
    return (await answer.json().catch(() => undefined)) as EtcdAnswer | undefined;
  }

  /** Sends a write through the first member that takes it. */
  private async write(path: string, body: object): Promise<EtcdAnswer> {
    for (const i of this.reachable()) {
      const answer = await this.call(i, path, body);
      if (answer) return answer;
    }
    throw new Error(`no member took ${path}`);
  }

  async put(key: string, value: string): Promise<void> {
    await this.write('/v3/kv/put', { key: b64(key), value: b64(value) });
  }

  async delete(key: string): Promise<void> {
    await this.write('/v3/kv/deleterange', { key: b64(key) });
  }

  /** Deletes every key under `prefix`, with and without a leading slash. */
  async deletePrefix(prefix: string): Promise<void> {
    for (const p of [prefix, `/${prefix}`]) await this.write('/v3/kv/deleterange', { key: b64(p), range_end: prefixEnd(p) });
  }

  /** Compacts history up to the current revision (physically): watchers from older revisions are cancelled. Returns that revision. */
  async compact(): Promise<number> {
    const { header } = await this.write('/v3/kv/range', { key: b64('\0'), count_only: true });
    await this.write('/v3/kv/compaction', { revision: String(header?.revision), physical: true });
    return Number(header?.revision);
  }

  /** Waits until the members that can be asked have a leader again and a write goes through. */
  async settled(timeoutMs = 20_000): Promise<void> {
    await this.putSoon('/occs-lb-test/settled', String(Date.now()), timeoutMs);
  }

  /**
   * Writes as soon as the cluster can take it: once the members agree on a leader (a write sent
   * before would wait out etcd's own 7 s request timeout), retried until `timeoutMs`.
   */
  async putSoon(key: string, value: string, timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    await waitFor(
      `the cluster to take the write of ${key}`,
      async () => {
        await this.leader(Math.max(0, deadline - performance.now()));
        return this.put(key, value).then(() => true);
      },
      timeoutMs,
    );
  }

  /** The index of the current leader, once the members that can be asked agree on one of them. */
  async leader(timeoutMs = 20_000): Promise<number> {
    return waitFor(
      'the cluster to have a leader',
      async () => {
        const statuses = await Promise.all(this.reachable().map(async (i) => ({ i, status: await this.call(i, '/v3/maintenance/status', {}) })));
        const ids = new Map(statuses.flatMap(({ i, status }) => (status ? [[String(status.header?.member_id), i] as const] : [])));
        const said = new Set(statuses.map(({ status }) => String(status?.leader ?? '')));
        const [leader] = said;
        return said.size === 1 && leader && ids.has(leader) ? ids.get(leader) : undefined;
      },
      timeoutMs,
    );
  }

  /** Makes member `to` the leader (etcd's MoveLeader, asked of the leader), so a test knows who leads. */
  async moveLeader(to: number, timeoutMs = 20_000): Promise<void> {
    await waitFor(
      `member ${to} to lead`,
      async () => {
        const leader = await this.leader(timeoutMs);
        if (leader === to) return true;
        const target = (await this.call(to, '/v3/maintenance/status', {}))?.header?.member_id;
        if (target) await this.call(leader, '/v3/maintenance/transfer-leadership', { targetID: target });
        return undefined;
      },
      timeoutMs,
    );
  }
}
