import { ConsulSource } from '../../src/kv/consul.js';
import { parseKvLocation } from '../../src/kv/open.js';
import { ConsulKvCluster } from '../support/consul-kv-cluster.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeKvContract } from './kv-contract.js';

const TOKEN = 'contract-token-0123';
/** Three Consul servers on one store; the single-endpoint source reaches the first through a proxy. */
const cluster = new ConsulKvCluster(3, { token: TOKEN });
const server = cluster.servers[0]!;
const proxy = new TcpProxy(() => server.port);

const consulSource = (spec: string, token = TOKEN) => {
  const location = parseKvLocation(spec, '/');
  if (location.kind === 'file') throw new Error('expected a store URL');
  return new ConsulSource(location.endpoints, { token, timeoutMs: 5000, insecure: false });
};

describeKvContract({
  name: 'Consul/OCCS KV API',
  async start() {
    await cluster.start();
    await proxy.start();
  },
  async stop() {
    await proxy.cut();
    await cluster.stop();
  },
  put: async (key, value) => cluster.put(key, value),
  delete: async (key) => cluster.delete(key),
  goAway: () => server.stop(),
  comeBack: async () => void (await server.start()),
  putWhileAway: async (key, value) => cluster.put(key, value),
  deleteWhileAway: async (key) => cluster.delete(key),
  proxy,
  source: async (options) => consulSource(`http://${proxy.url}`, options?.badCredentials ? 'wrong-token' : TOKEN),
  checksCredentials: true,
  cluster: {
    source: async () => consulSource(cluster.url('consul')),
    stopFirst: () => server.stop(),
    startFirst: async () => void (await server.start()),
  },
});
