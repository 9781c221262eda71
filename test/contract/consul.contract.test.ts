import { ConsulSource } from '../../src/kv/consul.js';
import { parseKvLocation } from '../../src/kv/open.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeKvContract } from './kv-contract.js';

const TOKEN = 'contract-token-0123';
const server = new ConsulKvServer({ token: TOKEN });
const proxy = new TcpProxy(() => server.port);

describeKvContract({
  name: 'Consul/OCCS KV API',
  async start() {
    await server.start();
    await proxy.start();
  },
  async stop() {
    await proxy.cut();
    await server.stop();
  },
  put: async (key, value) => server.put(key, value),
  delete: async (key) => server.delete(key),
  goAway: () => server.stop(),
  comeBack: async () => void (await server.start()),
  putWhileAway: async (key, value) => server.put(key, value),
  deleteWhileAway: async (key) => server.delete(key),
  proxy,
  async source(options) {
    const location = parseKvLocation(`http://${proxy.url}`, '/');
    if (location.kind === 'file') throw new Error('expected a store URL');
    return new ConsulSource(location.endpoints, { token: options?.badCredentials ? 'wrong-token' : TOKEN, timeoutMs: 5000, insecure: false });
  },
  checksCredentials: true,
});
