import { describe, expect, it } from 'vitest';
import { Endpoints, type Failover } from '../../src/kv/endpoints.js';

const urls = ['http://a:2379/', 'http://b:2379/', 'http://c:2379/'].map((u) => new URL(u));

describe('the endpoints of a store given as several', () => {
  it('moves to the next when the one in use fails, once however many requests saw it fail, and tells why', () => {
    const e = new Endpoints(urls, 'etcd');
    const told: Failover[] = [];
    let moves = 0;
    e.onFailover((f) => told.push(f));
    e.onMove(() => (moves += 1));
    expect(e.current).toBe(urls[0]);
    expect(e.moveOn(urls[0]!, 'refused the connection')).toBe(true);
    expect(e.moveOn(urls[0]!, 'refused the connection')).toBe(true); // a second request that failed on a: already moved
    expect(e.current).toBe(urls[1]);
    expect(told).toEqual([{ from: 'http://a:2379', to: 'http://b:2379', why: 'refused the connection' }]);
    expect(moves).toBe(1);
  });

  it('does not tell a failover to an endpoint known down: every endpoint failing is one outage', () => {
    const e = new Endpoints(urls, 'etcd');
    const told: string[] = [];
    let moves = 0;
    e.onFailover((f) => told.push(`${f.from}>${f.to}`));
    e.onMove(() => (moves += 1));
    for (let round = 0; round < 3; round++) for (const url of urls) e.moveOn(url, 'said "etcdserver: no leader"');
    expect(told).toEqual(['http://a:2379>http://b:2379', 'http://b:2379>http://c:2379']);
    expect(moves).toBe(9); // requests still follow every move
    expect(e.health.answering).toBe(0);
    e.answered(urls[0]!);
    expect(e.health).toEqual({
      inUse: 'http://a:2379',
      answering: 1,
      endpoints: [
        { endpoint: 'http://a:2379', up: true },
        { endpoint: 'http://b:2379', up: false },
        { endpoint: 'http://c:2379', up: false },
      ],
    });
  });

  it('with one endpoint, never moves; the others are checked in turn, never the one in use', () => {
    const one = new Endpoints([urls[0]!], 'etcd');
    expect(one.moveOn(urls[0]!, 'x')).toBe(false);
    expect(one.nextOther()).toBeUndefined();
    const e = new Endpoints(urls, 'etcd');
    expect([e.nextOther(), e.nextOther(), e.nextOther()]).toEqual([urls[1], urls[2], urls[1]]);
    e.moveOn(urls[0]!, 'x');
    expect([e.nextOther(), e.nextOther()]).toEqual([urls[2], urls[0]]);
    expect(e.health.endpoints[1]!.up).toBeUndefined(); // not asked yet: unknown, not down
  });

  it('names the store by its first endpoint and the hosts of the others', () => {
    expect(new Endpoints(urls, 'etcd').description).toBe('etcd http://a:2379 (and b:2379, c:2379)');
  });
});
