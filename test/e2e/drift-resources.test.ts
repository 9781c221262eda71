import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';
import { waitFor } from '../support/haproxy-process.js';
import { WatchProcess } from '../support/watch-process.js';
import { PREFIX, useWatchRig } from '../support/watch-rig.js';

/*
 * Several resources (a config file's `resources`): the HAProxy config reads a file another
 * resource writes (an ACL's pattern file here; an errorfile, a certificate list would do). Only
 * stack mode's map files are maps HAProxy can be asked for: that file is no drift.
 */

const rig = useWatchRig();

describe('HAProxy that heals from drift, with several resources', () => {
  it('a file of another resource that the config reads (acl -f) is not taken for a map: looks find no drift and never reload', async () => {
    const blocked = join(rig.dir, 'blocked.lst');
    const template = readFileSync(join(ROOT, 'templates/haproxy.cfg.ejs'), 'utf8').replace(
      '    default_backend <%= settings.backendName %>',
      `    acl blocked src -f ${blocked}\n    http-request deny if blocked\n    default_backend <%= settings.backendName %>`,
    );
    writeFileSync(join(rig.dir, 'haproxy.cfg.ejs'), template);
    writeFileSync(join(rig.dir, 'blocked.ejs'), '192.0.2.1\n');
    // HAProxy checks the config with the pattern file that is installed: it is there from an earlier run.
    writeFileSync(blocked, '192.0.2.1\n');
    writeFileSync(
      join(rig.dir, 'occs-lb.config.json'),
      JSON.stringify({
        prefixes: [PREFIX],
        resources: [
          { template: 'haproxy.cfg.ejs', destination: rig.config() },
          { template: 'blocked.ejs', destination: blocked, haproxy: false },
        ],
      }),
    );
    rig.store.put(`${PREFIX}/one`, rig.address(0));
    const files = ['--config', join(rig.dir, 'occs-lb.config.json'), '--haproxy-config', rig.config()];
    rig.watch = new WatchProcess([...files, ...rig.watchFlags(rig.store.url), '--verify-interval', '1s']);
    await rig.servedBy(['a']);
    await waitFor('three looks', async () => (await rig.metric('drift_verifications_total')) >= 3, 10_000);
    expect(rig.watch.logs.filter((l) => /drifted|could not compare/.test(l.msg))).toEqual([]);
    expect(await rig.metric('reloads_total')).toBe(0);
  });
});
