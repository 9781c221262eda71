#!/usr/bin/env node
// The CLI ships as one CommonJS bundle (dist/cli.cjs): loading it with require() skips the ESM
// loader's per-module work, which is most of a short command's start-up time.
import { createRequire } from 'node:module';

// watch runs for good: its process starts again in place (same pid, same stdio) with V8's young
// generation at 2 MiB a semi-space rather than 1, which only Node's command line can set
// (src/util/memory.ts says what it saves). A semi-space size given to node is left as it is.
if (process.argv.slice(2).includes('watch') && typeof process.execve === 'function' && !process.execArgv.some((a) => a.includes('semi-space-size'))) {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, '--min-semi-space-size=2', ...process.argv.slice(1)], process.env);
  } catch {
    // runs on with V8's default
  }
}

if (process.argv.includes('-v') || process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
const { main } = createRequire(import.meta.url)('../dist/cli.cjs');
process.exitCode = await main(process.argv);
// Safety net: a handle leaked by a dependency must never keep a finished command (or a stopped
// watch in a container) alive. The timer is unref'd, so it only fires if something else would.
setTimeout(() => process.exit(), 2000).unref();
