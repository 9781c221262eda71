import { describe, expect, it } from 'vitest';
import { cachedExpectedState, expectedState, type ExpectedState } from '../../src/haproxy/expected-state.js';

const MAP = '/etc/haproxy/lb.hosts.map';
const MAPS = new Map([[MAP, 'a.example/ web\n']]);

/** Everything a state says, in its order (a Map's order is the order its servers are compared and set right in). */
const shown = (state: ExpectedState) => ({
  backends: [...state.backends].map(([name, b]) => [name, { ...b, servers: [...b.servers] }]),
  maps: [...state.maps],
  unverifiable: state.unverifiable,
});

const START = [
  'global',
  '    maxconn 100',
  'defaults',
  '    mode http',
  'frontend main',
  `    http-request set-var(txn.b) req.fhdr(host),map_beg(${MAP})`,
  '    default_backend web',
  'backend web',
  '    balance roundrobin',
  '    server w1 10.0.0.1:80 check',
  '    server w2 10.0.0.2:80 weight 5',
  'backend api',
  '    default-server weight 7',
  '    server a1 10.0.1.1:80',
  'listen stats',
  '    bind 127.0.0.1:9000',
  '    server l1 10.0.2.1:80 disabled',
  'backend tmpl',
  '    server-template t 2 10.0.3.1:80',
  'backend web2',
  '    server x1 10.0.4.1:80',
  '',
];

/** A small deterministic generator (mulberry32), so a failure comes back the same. */
function random(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** One edit of the kinds a store change makes (server lines come, go, change, move) and, now and then, others. */
function edit(lines: string[], pick: (n: number) => number): string[] {
  const out = [...lines];
  const servers = out.flatMap((l, i) => (/^\s*server\s/.test(l) ? [i] : []));
  const name = () => ['w', 'a', 'l', 'x', 'n'][pick(5)]! + String(pick(6));
  const server = () =>
    `    server ${name()} ${pick(8) === 0 ? `${MAP}:80` : `10.${pick(3)}.${pick(3)}.${pick(250)}:${80 + pick(3)}`}${[' check', ' weight 3', ' disabled', '', ' # note'][pick(5)]}`;
  const at = () => 1 + pick(out.length - 1);
  const kind = pick(20);
  if (kind < 6) out.splice(at(), 0, server());
  else if (kind < 10 && servers.length > 0) out.splice(servers[pick(servers.length)]!, 1);
  else if (kind < 14 && servers.length > 0) out[servers[pick(servers.length)]!] = server();
  else if (kind < 16 && servers.length > 1) {
    const i = servers[pick(servers.length - 1)]!;
    [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
  } else if (kind === 16) out.splice(at(), 0, '');
  else if (kind === 17) out.splice(at(), 0, '    # a comment');
  else if (kind === 18) out.splice(at(), 0, pick(2) ? '    default-server weight 9' : `backend b${pick(3)}`);
  else out.splice(at(), 0, '    option httpchk');
  return out;
}

describe('the expected state of a config changed by server lines (read against the last one)', () => {
  it('is what a whole read of the same text gives, order and all, over 1,500 random edits', () => {
    for (const seed of [1, 2, 3]) {
      const pick = random(seed);
      const expectedOf = cachedExpectedState();
      let lines = START;
      for (let i = 0; i < 500; i++) {
        lines = edit(lines, pick);
        const config = lines.join('\n');
        expect(shown(expectedOf(config, MAPS)), `seed ${seed}, edit ${i}:\n${config}`).toEqual(shown(expectedState(config, MAPS)));
      }
    }
  });

  it('keeps every other backend as it was when server lines of one changed, and reads the text whole when another line did', () => {
    const expectedOf = cachedExpectedState();
    const first = expectedOf(START.join('\n'), MAPS);
    const added = START.map((l) => (l === '    server w2 10.0.0.2:80 weight 5' ? `${l}\n    server w3 10.0.0.3:80` : l)).join('\n');
    const second = expectedOf(added, MAPS);
    expect([...second.backends.get('web')!.servers.keys()]).toEqual(['w1', 'w2', 'w3']);
    expect(second.backends.get('web2')).toBe(first.backends.get('web2'));
    expect(second.backends.get('api')).toBe(first.backends.get('api'));
    const third = expectedOf(added.replace('    balance roundrobin', '    balance leastconn'), MAPS);
    expect(third.backends.get('web2')).not.toBe(second.backends.get('web2'));
    expect(shown(third)).toEqual(shown(expectedState(added.replace('    balance roundrobin', '    balance leastconn'), MAPS)));
  });

  it('a server line that names the map file makes the config load it, read whole', () => {
    const expectedOf = cachedExpectedState();
    const config = START.filter((l) => !l.includes('map_beg')).join('\n');
    expect(expectedOf(config, MAPS).maps.size).toBe(0);
    const naming = config.replace('    server x1 10.0.4.1:80', `    server x1 10.0.4.1:80\n    server x2 ${MAP}:80`);
    expect(expectedOf(naming, MAPS).maps.size).toBe(1);
  });
});

describe('the map files given in another order', () => {
  it('say what is not checked in their new order, as a whole read does', () => {
    const expectedOf = cachedExpectedState();
    const maps = (...paths: string[]) => new Map(paths.map((p) => [p, 'x.example/ web\n']));
    const config = START.join('\n');
    expectedOf(config, maps('/m/b.map', '/m/c.map'));
    const moved = config.replace('    server x1 10.0.4.1:80', '    server x1 10.0.4.1:81');
    expect(expectedOf(moved, maps('/m/c.map', '/m/b.map')).unverifiable).toEqual(expectedState(moved, maps('/m/c.map', '/m/b.map')).unverifiable);
  });
});
