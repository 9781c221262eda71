import { removeTempDirs } from '../support/temp.js';
import { benchBurst } from './burst.js';
import { benchDrift } from './drift.js';
import { benchEtcd } from './etcd.js';
import { benchFailover } from './failover.js';
import { benchFleet, benchFleetCluster } from './fleet.js';
import { benchIdle } from './idle.js';
import { benchProbe } from './probe.js';
import { benchRecovery, benchStall } from './recovery.js';
import { benchReload } from './reload.js';
import { benchScale } from './scale.js';
import { benchRender10k } from './render-10k.js';
import { benchRuntime, benchRuntimeReuse } from './runtime.js';
import { benchStack } from './stack.js';
import { benchStartup } from './startup.js';
import { benchTls } from './tls.js';
import { benchWatch, benchWatchIdle } from './watch.js';

/** `npm run bench [-- NAME...]`: every benchmark, or the named ones. */
const benches: Record<string, () => void | Promise<void>> = {
  startup: () => benchStartup(),
  'render-10k': () => benchRender10k(),
  reload: () => benchReload(),
  watch: () => benchWatch(),
  etcd: () => benchEtcd(),
  runtime: () => benchRuntime(),
  'runtime-reuse': () => benchRuntimeReuse(),
  recovery: () => benchRecovery(),
  stall: () => benchStall(),
  scale: () => benchScale(),
  burst: () => benchBurst(),
  fleet: () => benchFleet(),
  'fleet-cluster': () => benchFleetCluster(),
  'watch-idle': () => benchWatchIdle(),
  stack: () => benchStack(),
  probe: () => benchProbe(),
  drift: () => benchDrift(),
  failover: () => benchFailover(),
  idle: () => benchIdle(),
  tls: () => benchTls(),
};

/** Run only when named: scale runs it too. */
const partOfAnother = new Set(['fleet']);

const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in benches)) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(', ')}`);
console.log(`# occs-lb benchmarks — node ${process.version}, ${new Date().toISOString()}`);
try {
  for (const [name, run] of Object.entries(benches)) if (wanted.includes(name) || (wanted.length === 0 && !partOfAnother.has(name))) await run();
} finally {
  removeTempDirs();
}
