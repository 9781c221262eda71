import { ConsulKvServer, type ConsulKvServerOptions } from './consul-kv-server.js';
import { ConsulKvStore } from './consul-kv-store.js';

/**
 * Consul servers of one cluster, for tests: several Consul-KV test servers on 127.0.0.1 free
 * ports sharing one store (one key space, one index sequence, one leader: the first while it runs
 * and knows a leader). Each is started, stopped, told it lost its leader or told to lag on its own
 * handle (`servers[i]`).
 */
export class ConsulKvCluster {
  readonly store = new ConsulKvStore();
  readonly servers: ConsulKvServer[];

  constructor(size = 3, options: Omit<ConsulKvServerOptions, 'store'> = {}) {
    this.servers = Array.from({ length: size }, () => new ConsulKvServer({ ...options, store: this.store }));
  }

  async start(): Promise<this> {
    for (const server of this.servers) await server.start();
    return this;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()));
  }

  /** `--kv` naming every server, the first first (`scheme` as given: consul, occs, http…). */
  url(scheme = 'http'): string {
    return `${scheme}://${this.servers.map((s) => s.address).join(',')}`;
  }

  /** The server at `origin` (`http://127.0.0.1:PORT`, as a source names its endpoint in use). */
  at(origin: string | URL): ConsulKvServer {
    const wanted = new URL(origin).origin;
    const server = this.servers.find((s) => s.url === wanted);
    if (!server) throw new Error(`no server of the cluster at ${wanted}`);
    return server;
  }

  /** Requests received by every server, newest last on each. */
  get requests() {
    return this.servers.flatMap((s) => s.requests);
  }

  put(key: string, value: string): void {
    this.store.put(key, value);
  }

  delete(key: string, recurse = false): void {
    this.store.delete(key, recurse);
  }
}
