import { EtcdSource } from '../../src/kv/etcd.js';
import { parseKvLocation } from '../../src/kv/open.js';
import { EtcdCluster } from '../support/etcd-cluster.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeKvContract } from './kv-contract.js';

/*
 * The same contract on a real three-member etcd cluster: the single-endpoint source reaches the
 * first member through a proxy (it goes away when that member is killed, and the others take
 * writes meanwhile), and a source given every member follows a watch through the first's death.
 */
const cluster = new EtcdCluster();
let proxy: TcpProxy;

const etcdSource = (spec: string) => {
  const location = parseKvLocation(spec, '/');
  if (location.kind === 'file') throw new Error('expected a store URL');
  return new EtcdSource(location.endpoints, { timeoutMs: 5000, insecure: false });
};

const restartFirst = async () => {
  cluster.restart(0);
  await cluster.waitHealthy(0);
};

describeKvContract({
  name: 'etcd v3 (a real three-member cluster)',
  async start() {
    await cluster.start(3);
    proxy = await new TcpProxy(() => Number(new URL(cluster.endpoint(0)).port)).start();
  },
  async stop() {
    await proxy.cut();
    await cluster.stop();
  },
  get proxy() {
    return proxy;
  },
  put: (key, value) => cluster.putSoon(key, value),
  delete: (key) => cluster.delete(key),
  goAway: () => cluster.kill(0),
  comeBack: restartFirst,
  putWhileAway: (key, value) => cluster.putSoon(key, value),
  deleteWhileAway: (key) => cluster.delete(key),
  source: async () => etcdSource(`etcd://${proxy.url}`),
  checksCredentials: false,
  cluster: {
    source: async () => etcdSource(cluster.url),
    stopFirst: () => cluster.kill(0),
    startFirst: restartFirst,
  },
});
