/**
 * HAProxy's lines of server state changes (`Server web/s1 is DOWN, reason: …`), which come by the
 * thousand when a large backend starts or loses many servers (10,000 "is DOWN" lines after the
 * start of a backend of 10,000 unreachable servers): the first few of each second are logged as
 * HAProxy printed them, the rest counted by backend and state and told in one line when the
 * second ends. Each line logged costs the loop about 27 µs (masking, encoding, writing), so
 * 10,000 lines would hold it for 270 ms; counting one costs a match.
 */
const STATE_LINE = /^\[[A-Z]+\] +\(\d+\) : (?:CLI : )?(?:Backup )?Server ([^\s/]+)\/\S+ (?:is|was) (?:going )?([A-Z]+)/;
/**
 * The runtime API's notice of each server watch adds or deletes (1,000 of them for 1,000 servers
 * written at once, read while HAProxy takes the burst), counted the same: `b NEW`, and `DELETED`
 * (HAProxy names no server there). The change itself is logged by watch, with its count.
 */
const RUNTIME_LINE = /^\[NOTICE\] +\(\d+\) : CLI : (?:'server ([^\s/']+)\/[^']*' : New server registered|Server deleted)\.$/;

/**
 * `backend STATE` of a line counted, and its kind (each kind has its own lines logged as they
 * are, so notices of servers added never crowd out a server going DOWN), or undefined.
 */
function counted(line: string): { key: string; kind: 'state' | 'runtime' } | undefined {
  const state = STATE_LINE.exec(line);
  if (state) return { key: `${state[1]} ${state[2]}`, kind: 'state' };
  const runtime = RUNTIME_LINE.exec(line);
  if (runtime) return { key: runtime[1] === undefined ? 'DELETED' : `${runtime[1]} NEW`, kind: 'runtime' };
  return undefined;
}

export interface StateLineOptions {
  /** State lines logged as they are in each window. */
  most?: number;
  windowMs?: number;
  now?: () => number;
}

export class StateLines {
  private windowStart = -Infinity;
  private readonly shown = { state: 0, runtime: 0 };
  /** Lines held back in this window: count by `backend STATE`. */
  private readonly held = new Map<string, number>();
  /** The kinds of the lines held back in this window. */
  private readonly heldKinds = new Set<'state' | 'runtime'>();
  private timer?: NodeJS.Timeout;
  private readonly most: number;
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pass: (line: string) => void,
    private readonly tell: (message: string, fields: { source: 'haproxy'; held: Record<string, number> }, down: boolean) => void,
    options: StateLineOptions = {},
  ) {
    this.most = options.most ?? 10;
    this.windowMs = options.windowMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** One line HAProxy printed: passed on, or counted. */
  take(line: string): void {
    const found = counted(line);
    if (found === undefined) return this.pass(line);
    const { key, kind } = found;
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.flush();
      this.windowStart = now;
      this.shown.state = this.shown.runtime = 0;
    }
    if (this.shown[kind] < this.most) {
      this.shown[kind] += 1;
      return this.pass(line);
    }
    this.held.set(key, (this.held.get(key) ?? 0) + 1);
    this.heldKinds.add(kind);
    this.timer ??= setTimeout(() => this.flush(), this.windowStart + this.windowMs - now).unref();
  }

  /** Tells what was held back, if anything (at the end of each window, and when HAProxy stops). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.held.size === 0) return;
    const held = Object.fromEntries(this.held);
    this.held.clear();
    const total = Object.values(held).reduce((a, b) => a + b, 0);
    const each = Object.entries(held)
      .map(([key, n]) => `${key} ${n}`)
      .join(', ');
    const down = Object.keys(held).some((key) => key.endsWith(' DOWN'));
    const kinds = { state: 'server state changes', runtime: 'servers added or deleted' };
    const what = (['state', 'runtime'] as const)
      .filter((k) => this.heldKinds.has(k))
      .map((k) => kinds[k])
      .join(' and ');
    this.heldKinds.clear();
    this.tell(`haproxy printed ${total} more lines of ${what}, not logged one by one: ${each}`, { source: 'haproxy', held }, down);
  }
}
