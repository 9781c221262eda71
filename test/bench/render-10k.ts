import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { resolveSettings } from '../../src/config/settings.js';
import { toSnapshot } from '../../src/kv/keys.js';
import { DEFAULT_TEMPLATE } from '../../src/paths.js';
import { renderResources } from '../../src/plan/render.js';
import { compileTemplates } from '../../src/wiring/templates.js';
import { median, ms, report } from './stats.js';

const SERVERS = 10_000;

/**
 * Renders the default template over 10,000 servers in a fresh process (so its peak RSS is the
 * render's alone) and reports the median time and the memory it took.
 */
export function benchRender10k(): void {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`render bench failed: ${child.stderr}`);
  const figures = JSON.parse(child.stdout) as { times: number[]; baseRss: number; peakRss: number; heapDelta: number; lines: number };
  report(`render of ${SERVERS} servers in process (${figures.times.length} renders)`, [
    ['median (goal <= 100 ms)', ms(median(figures.times))],
    ['slowest', ms(Math.max(...figures.times))],
    ['server lines in the output', String(figures.lines)],
    ['peak RSS of the process', `${(figures.peakRss / 1024).toFixed(1)} MiB`],
    ['peak RSS above the loaded baseline', `${((figures.peakRss - figures.baseRss) / 1024).toFixed(1)} MiB`],
  ]);
}

async function child(): Promise<void> {
  const settings = resolveSettings({
    flags: { prefix: ['apps/big/containers'] },
    env: {},
    cwd: process.cwd(),
    defaultTemplate: DEFAULT_TEMPLATE,
    readSecret: () => '',
  });
  const templates = await compileTemplates(settings.resources);
  const pairs = Array.from({ length: SERVERS }, (_, i) => ({
    key: `/apps/big/containers/c${String(i).padStart(5, '0')}`,
    value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${30000 + (i % 30000)}`,
  }));
  const snapshot = toSnapshot(pairs);
  const baseRss = process.resourceUsage().maxRSS;
  const times: number[] = [];
  let lines = 0;
  for (let i = 0; i < 21; i++) {
    const started = performance.now();
    const [rendered] = renderResources(settings, templates, snapshot);
    times.push(performance.now() - started);
    lines = rendered!.text.split('\n').filter((l) => l.trimStart().startsWith('server ')).length;
  }
  const peakRss = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify({ times, baseRss, peakRss, lines }));
}

if (process.argv[2] === 'child') await child();
