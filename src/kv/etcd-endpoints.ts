/** An etcd store as logs name it: the first endpoint, and the hosts of the others. */
export function clusterName(endpoints: readonly URL[]): string {
  const more =
    endpoints.length > 1
      ? ` (and ${endpoints
          .slice(1)
          .map((e) => e.host)
          .join(', ')})`
      : '';
  return `etcd ${endpoints[0]!.origin}${more}`;
}

/**
 * The members of an etcd cluster a source may ask, one at a time: requests go to the one in use,
 * and to the next at once when it cannot serve (it refuses connections, does not answer in time,
 * or says it has no leader). Only when every member failed does the caller's backoff apply.
 */
export class EtcdEndpoints {
  private at = 0;

  constructor(private readonly endpoints: readonly URL[]) {}

  /** The cluster as logs name it: the first endpoint, and the hosts of the others. */
  get description(): string {
    const more =
      this.endpoints.length > 1
        ? ` (and ${this.endpoints
            .slice(1)
            .map((e) => e.host)
            .join(', ')})`
        : '';
    return `etcd ${this.endpoints[0]!.origin}${more}`;
  }

  get size(): number {
    return this.endpoints.length;
  }

  /** The endpoint in use. */
  get current(): URL {
    return this.endpoints[this.at]!;
  }

  /**
   * `failed` could not serve: the next endpoint is used, unless another request moved on already
   * (then the one it moved to is tried). False when there is no other endpoint. `moved` is told
   * when this call moved.
   */
  moveOn(failed: URL, moved: () => void = () => {}): boolean {
    if (this.endpoints.length < 2) return false;
    if (this.current === failed) {
      this.at = (this.at + 1) % this.endpoints.length;
      moved();
    }
    return true;
  }
}

/** An answer that says a member cannot serve now (no leader, a proposal timed out, a leader change), where another may. */
export function memberCannotServe(status: number, said: string): boolean {
  return status >= 500 && /no leader|request timed out|leader changed|not capable|too many requests/i.test(said);
}
