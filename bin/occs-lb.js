#!/usr/bin/env node
// The CLI ships as one CommonJS bundle (dist/cli.cjs): loading it with require() skips the ESM
// loader's per-module work, which is most of a short command's start-up time.
import { createRequire } from 'node:module';

if (process.argv.includes('-v') || process.argv.includes('--verbose')) process.setSourceMapsEnabled(true);
const { main } = createRequire(import.meta.url)('../dist/cli.cjs');
process.exitCode = await main(process.argv);
// Safety net: a handle leaked by a dependency must never keep a finished command (or a stopped
// watch in a container) alive. The timer is unref'd, so it only fires if something else would.
setTimeout(() => process.exit(), 2000).unref();
