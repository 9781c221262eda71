import net from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 in front of a store. A test can cut clients off (connections reset,
 * new ones refused) while the store itself is up, and let them back in later: the way to make a
 * change land while a watcher is still backing off, every time. Or it can stall: connections
 * stay open and are accepted, but nothing passes either way, as with a hung store.
 */
export class TcpProxy {
  private server?: net.Server;
  private readonly pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  private stalled = false;
  port = 0;

  constructor(private readonly target: () => number) {}

  get url(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    const server = net.createServer((client) => {
      const pair: { client: net.Socket; upstream?: net.Socket } = { client };
      this.pairs.add(pair);
      client.on('error', () => {});
      client.on('close', () => {
        this.pairs.delete(pair);
        pair.upstream?.destroy();
      });
      if (this.stalled)
        client.pause(); // accepted, and never answered
      else this.connect(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
    return this;
  }

  private connect(pair: { client: net.Socket; upstream?: net.Socket }): void {
    const upstream = net.connect(this.target(), '127.0.0.1');
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.destroy());
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
  }

  /** Cuts every connection and refuses new ones until `start()` again (same port). */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream?.destroy();
    }
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** From now on nothing passes: open connections hang, new ones are accepted and hang. */
  stall(): void {
    this.stalled = true;
    for (const { client, upstream } of this.pairs) {
      client.unpipe();
      upstream?.unpipe();
      client.pause();
      upstream?.pause();
    }
  }

  /** New connections pass again; the ones that hung stay hung, as a recovering store's may. */
  unstall(): void {
    this.stalled = false;
  }
}
