import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

/**
 * A hot function in a process that set `flags` (or ran keepSmall): the bits of V8's
 * optimization status once it was optimized, or once it ran 400,000 times without.
 */
function hotFunctionStatus(setup: string): { optimized: boolean; maglev: boolean; turbofan: boolean } {
  const script = `
    ${setup}
    function hot(a) { let s = 0; for (let i = 0; i < a.length; i++) s += a[i] * 2; return s; }
    const a = Array.from({ length: 100 }, (_, i) => i);
    // V8's optimization status bits (src/runtime/runtime.h): 16 optimized, 32 Maglev, 64 TurboFan.
    const status = () => %GetOptimizationStatus(hot);
    for (let n = 0; n < 400_000 && !(status() & 16); n++) {
      hot(a);
      // The optimizing compilers run beside the main thread: give them turns.
      if (n % 1000 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    console.log(status());`;
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  const status = Number(run.stdout.trim());
  return { optimized: (status & 16) !== 0, maglev: (status & 32) !== 0, turbofan: (status & 64) !== 0 };
}

describe('keepSmall', () => {
  it('leaves hot code to the baseline compiler: neither TurboFan nor Maglev compiles it', () => {
    // The same loop is hot enough for an optimizing compiler without the flags, and with --no-opt alone.
    expect(hotFunctionStatus('')).toMatchObject({ optimized: true });
    expect(hotFunctionStatus(`(await import('node:v8')).default.setFlagsFromString('--no-opt');`)).toMatchObject({ optimized: true, maglev: true });
    expect(hotFunctionStatus(`(await import('./src/util/memory.ts')).keepSmall();`)).toEqual({ optimized: false, maglev: false, turbofan: false });
  }, 60_000);
});
