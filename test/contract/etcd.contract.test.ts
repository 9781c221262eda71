import { EtcdSource } from '../../src/kv/etcd.js';
import { parseKvLocation } from '../../src/kv/open.js';
import { EtcdServer } from '../support/etcd-server.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { describeKvContract } from './kv-contract.js';

const etcd = new EtcdServer();
const proxy = new TcpProxy(() => etcd.clientPort);

describeKvContract({
  name: 'etcd v3 (real etcd, with authentication)',
  async start() {
    await etcd.start();
    await etcd.enableAuth('occs', 'occs-password');
    await proxy.start();
  },
  async stop() {
    await proxy.cut();
    await etcd.stop();
  },
  proxy,
  put: (key, value) => etcd.put(key, value),
  delete: (key) => etcd.delete(key),
  goAway: () => etcd.kill(),
  comeBack: async () => void (await etcd.start()),
  async source(options) {
    const location = parseKvLocation(`etcd://${proxy.url}`, '/');
    if (location.kind === 'file') throw new Error('expected a store URL');
    return new EtcdSource(location.endpoints, {
      user: 'occs',
      password: options?.badCredentials ? 'wrong' : 'occs-password',
      timeoutMs: 5000,
      insecure: false,
    });
  },
  checksCredentials: true,
});
