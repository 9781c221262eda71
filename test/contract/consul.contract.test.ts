import { ConsulSource } from '../../src/kv/consul.js';
import { parseKvLocation } from '../../src/kv/open.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';
import { describeKvContract } from './kv-contract.js';

const TOKEN = 'contract-token-0123';
const server = new ConsulKvServer({ token: TOKEN });

describeKvContract({
  name: 'Consul/OCCS KV API',
  start: async () => void (await server.start()),
  stop: () => server.stop(),
  put: async (key, value) => server.put(key, value),
  delete: async (key) => server.delete(key),
  goAway: () => server.stop(),
  comeBack: async () => void (await server.start()),
  async source(options) {
    const location = parseKvLocation(server.url, '/');
    if (location.kind === 'file') throw new Error('expected a store URL');
    return new ConsulSource(location.base, { token: options?.badCredentials ? 'wrong-token' : TOKEN, timeoutMs: 5000, insecure: false });
  },
  checksCredentials: true,
});
