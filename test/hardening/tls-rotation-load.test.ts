import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOf, makeCa, makeLeaf, type TestCert } from '../support/certs.js';
import { freePort, waitFor } from '../support/haproxy-process.js';
import { useStackRig } from '../support/stack-rig.js';
import { makeTempDir } from '../support/temp.js';
import { handshakeSerial, httpsGet } from '../support/tls-client.js';
import { httpsLoad } from '../support/tls-load.js';

const stack = useStackRig();
const { rig } = stack;

const WEB = 'www.example.test';
const API = 'api.example.test';
const OLD = 'old.example.test';
const NEW = 'new.example.test';
const ROTATIONS = 20;

/** Certificates made once by the real openssl: three for each loaded name (rotated in turn), one for the name removed and one for the name added. */
const certs = {} as { ca: string; web: TestCert[]; api: TestCert[]; old: TestCert; new: TestCert };
beforeAll(() => {
  const dir = makeTempDir();
  const ca = makeCa(dir, 'occs-lb test CA');
  const leaf = (name: string) => makeLeaf(dir, ca, name, { san: [`DNS:${name}`] });
  Object.assign(certs, { ca: ca.cert, web: [0, 1, 2].map(() => leaf(WEB)), api: [0, 1, 2].map(() => leaf(API)), old: leaf(OLD), new: leaf(NEW) });
}, 60_000);

const presents = (port: number, name: string, cert: TestCert) =>
  waitFor(`${name} to be presented serial ${cert.serial}`, async () => (await handshakeSerial(port, name)) === cert.serial);

/** web (backend a) serves www and old, api (backend b) serves api and new; certificates for www, api and old. */
async function start(https: number) {
  rig.store.put('apps/web/containers/w1', rig.address(0));
  rig.store.put('apps/api/containers/a1', rig.address(1));
  rig.store.put('lb/routes/web', `${WEB} ${OLD}`);
  rig.store.put('lb/routes/api', `${API} ${NEW}`);
  rig.store.put('lb/certs/web', bundleOf(certs.web[0]!));
  rig.store.put('lb/certs/api', bundleOf(certs.api[0]!));
  rig.store.put('lb/certs/old', bundleOf(certs.old));
  const w = await stack.start(rig.store.url, ['--https-port', String(https)]);
  for (const [name, cert] of [
    [WEB, certs.web[0]!],
    [API, certs.api[0]!],
    [OLD, certs.old],
  ] as const)
    await presents(https, name, cert);
  return w;
}

/** Both loaded names rotated ROTATIONS times, each to the next of its three certificates; each rotation must be presented before the next. */
async function rotateBoth(https: number): Promise<void> {
  for (let i = 1; i <= ROTATIONS; i++) {
    const [web, api] = [certs.web[i % 3]!, certs.api[i % 3]!];
    rig.store.put('lb/certs/web', bundleOf(web));
    rig.store.put('lb/certs/api', bundleOf(api));
    await presents(https, WEB, web);
    await presents(https, API, api);
  }
}

describe('certificates rotated, added and removed under continuous HTTPS load', () => {
  it('serves every rotation with no failed handshake or request, the same worker and no reload', async () => {
    const https = await freePort();
    const w = await start(https);
    const workers = await rig.workers(w);
    // Every request a full handshake, its certificate checked against the CA and the name asked for.
    const load = httpsLoad(
      https,
      [
        { name: WEB, body: 'a' },
        { name: API, body: 'b' },
      ],
      4,
      certs.ca,
    );
    try {
      await waitFor('the load to be answered', () => load.stats.ok >= 20);
      await rotateBoth(https);

      rig.store.put('lb/certs/new', bundleOf(certs.new)); // added
      await presents(https, NEW, certs.new);
      expect((await httpsGet(https, NEW, '/', certs.ca)).body).toBe('b');
      rig.store.delete('lb/certs/old'); // removed: its name gets the default certificate (api's, first by name)
      const last = certs.api[ROTATIONS % 3]!;
      await presents(https, OLD, last);
      const answered = load.stats.ok;
      await waitFor('the load to go on after the last change', () => load.stats.ok >= answered + 20);
    } finally {
      await load.stop();
    }
    expect([load.stats.failedHandshakes, load.stats.failedRequests], load.describe()).toEqual([0, 0]);
    // Every certificate the load met was one made for the name it asked for.
    const known = (list: TestCert[]) => new Set(list.map((c) => c.serial));
    for (const serial of load.stats.serials.get(WEB)!) expect(known(certs.web)).toContain(serial);
    for (const serial of load.stats.serials.get(API)!) expect(known(certs.api)).toContain(serial);
    expect(await rig.workers(w)).toEqual(workers);
    expect(await rig.metric('reloads_total')).toBe(0);
  });
});
