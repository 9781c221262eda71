import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { claimRoutes } from '../../src/stack/claim.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

describe('claimRoutes', () => {
  it('keeps no store text beyond the route values it read: 100 versions of a 1 MB file, each with another route value, leave the heap as it was', () => {
    const settings = { control: 'lb', apps: 'apps', services: [], maps: { hosts: '/h.map', paths: '/p.map' } };
    const claim = (value: string) => claimRoutes(settings, [{ key: '/lb/routes/web', app: 'web', value }], new Set(['web']), () => {});
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100; i++) {
      // A value cut from a file's text, as the file: store reads its lines.
      const text = `${'# padding\n'.repeat(100_000)}/lb/routes/web=www${i}.example.com /api${i}\n`;
      const value = text.slice(text.indexOf('=') + 1, -1);
      expect(claim(value).routes.map((r) => `${r.host ?? ''}${r.path} ${r.service}`)).toEqual([`/api${i} web`, `www${i}.example.com/ web`]);
    }
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(20 * 1024 * 1024);
  });
});
