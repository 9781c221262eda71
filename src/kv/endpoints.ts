/** One endpoint as /healthz and the metrics show it: `up` is unknown until it was asked once. */
export interface EndpointHealth {
  endpoint: string;
  up?: boolean;
}

/** What /healthz and the metrics say about a store's endpoints. */
export interface EndpointsHealth {
  inUse: string;
  /** How many endpoints answered when last asked. */
  answering: number;
  endpoints: EndpointHealth[];
}

/** One move from an endpoint that could not serve to the next, for the log line that tells it. */
export interface Failover {
  from: string;
  to: string;
  why: string;
}

/** What a source shows of its endpoints to the watch (health, metrics, one log line per failover). */
export interface StoreEndpoints {
  readonly health: EndpointsHealth;
  /** Told on every failover; returns the function that stops telling. */
  onFailover(listener: (failover: Failover) => void): () => void;
}

/** A store of several endpoints as logs name it: the first endpoint, and the hosts of the others. */
export function clusterName(kind: string, endpoints: readonly URL[]): string {
  const more =
    endpoints.length > 1
      ? ` (and ${endpoints
          .slice(1)
          .map((e) => e.host)
          .join(', ')})`
      : '';
  return `${kind}${kind ? ' ' : ''}${endpoints[0]!.origin}${more}`;
}

/**
 * The endpoints of one store (an etcd cluster's members, Consul servers or agents), asked one at a
 * time: requests go to the one in use, and to the next at once when it cannot serve (it refuses
 * connections, does not answer in time, or says it cannot serve now). Only when every endpoint
 * failed does the caller's backoff apply. Keeps what each endpoint did when last asked.
 */
export class Endpoints implements StoreEndpoints {
  private at = 0;
  private readonly up = new Map<URL, boolean>();
  private readonly listeners = new Set<(failover: Failover) => void>();
  private readonly movers = new Set<() => void>();
  /** Which endpoint the rotating check of the others asks next. */
  private checked = 0;

  constructor(
    private readonly urls: readonly URL[],
    kind = '',
    /** Which endpoint is used first (the first given by default). */
    first = 0,
  ) {
    if (urls.length === 0) throw new Error('a store needs at least one endpoint');
    this.description = clusterName(kind, urls);
    this.at = first % urls.length;
  }

  /** The store as logs name it. */
  readonly description: string;

  get size(): number {
    return this.urls.length;
  }

  /** The endpoint in use. */
  get current(): URL {
    return this.urls[this.at]!;
  }

  /** `endpoint` answered as an endpoint that can serve. */
  answered(endpoint: URL): void {
    this.up.set(endpoint, true);
  }

  /** `endpoint` did not answer, or said it cannot serve (without moving: see moveOn). */
  failed(endpoint: URL): void {
    this.up.set(endpoint, false);
  }

  /**
   * `failed` could not serve (`why`, safe to log): the next endpoint is used, unless another
   * request moved on already (then the one it moved to is tried). False when there is no other.
   * Every move is told to `onMove`; a failover to an endpoint already known down is not told to
   * `onFailover` (when every endpoint fails, that is one outage, told once by whoever reads).
   */
  moveOn(failed: URL, why: string): boolean {
    this.failed(failed);
    if (this.urls.length < 2) return false;
    if (this.current === failed) {
      this.at = (this.at + 1) % this.urls.length;
      for (const mover of this.movers) mover();
      if (this.up.get(this.current) !== false) {
        const failover = { from: failed.origin, to: this.current.origin, why };
        for (const listener of this.listeners) listener(failover);
      }
    }
    return true;
  }

  /** Told of every move to another endpoint (requests under way on the one left should follow); returns the function that stops telling. */
  onMove(mover: () => void): () => void {
    this.movers.add(mover);
    return () => this.movers.delete(mover);
  }

  /** The endpoint other than the one in use to check next (each in turn); undefined with one endpoint. */
  nextOther(): URL | undefined {
    if (this.urls.length < 2) return undefined;
    this.checked = (this.checked + 1) % this.urls.length;
    if (this.checked === this.at) this.checked = (this.checked + 1) % this.urls.length;
    return this.urls[this.checked];
  }

  get health(): EndpointsHealth {
    const endpoints = this.urls.map((url) => ({ endpoint: url.origin, up: this.up.get(url) }));
    return {
      inUse: this.current.origin,
      answering: endpoints.filter((e) => e.up === true).length,
      endpoints,
    };
  }

  onFailover(listener: (failover: Failover) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** An etcd answer that says a member cannot serve now (no leader, a proposal timed out, a leader change), where another may. */
export function memberCannotServe(status: number, said: string): boolean {
  return status >= 500 && /no leader|request timed out|leader changed|not capable|too many requests/i.test(said);
}
