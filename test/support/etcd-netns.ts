import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

/** The addresses of the members' links: 10.211.<slot>.1 outside, .2 inside. */
const NET = '10.211';
const SLOTS = 250;
const NS = /^occs-lb-(\d+)-(\d+)\b/;

function ip(args: string[], { check = true } = {}): { ok: boolean; out: string } {
  const run = spawnSync('ip', args, { encoding: 'utf8' });
  const ok = !run.error && run.status === 0;
  if (!ok && check) throw new Error(`ip ${args.join(' ')} failed: ${run.error?.message ?? run.stderr.trim()}`);
  return { ok, out: run.stdout ?? '' };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Drops what a slot left: its namespace (and so its link), the link, and every rule that names them. */
function clearSlot(slot: number, ns?: string): void {
  if (ns) ip(['netns', 'delete', ns], { check: false });
  ip(['link', 'delete', `olbv${slot}`], { check: false });
  clearRules(slot);
}

/** A rule naming a link outlives it, and would come back to life with the next link of that name. */
function clearRules(slot: number): void {
  for (const line of ip(['rule', 'show']).out.split('\n')) {
    const rule = /^\d+:\s+(.*\S)\s*$/.exec(line)?.[1];
    if (rule && (rule.includes(`iif olbv${slot} `) || rule.includes(`to ${NET}.${slot}.0/24`))) {
      ip(['rule', 'del', ...rule.replace(/\s*\[detached\]/, '').split(/\s+/)], { check: false });
    }
  }
}

/** Namespaces of test runs that are gone (killed half-way), with what they left behind. */
function removeStale(): void {
  for (const line of ip(['netns', 'list']).out.split('\n')) {
    const [ns, pid, slot] = NS.exec(line.trim()) ?? [];
    if (ns && !alive(Number(pid))) clearSlot(Number(slot), ns);
  }
}

/**
 * One etcd member's own network: a network namespace joined to the root namespace by a veth pair
 * (10.211.<slot>.2 inside, .1 outside, routed through the root namespace, which forwards). The
 * members of a cluster reach each other only through the root namespace, where a cut is made:
 * policy rules that blackhole what one member's link forwards to another's subnet. The kernel
 * drops those packets without a word (no reset, no ICMP, no error to the sender: with forwarding
 * on, a blackhole rule on the input path discards), so peers see exactly a partition: connections
 * that time out. What the root namespace itself sends (occs-lb, the tests) is not forwarded and
 * still reaches the member's client port. Slots are taken by creating the link, which fails when
 * another test (or worker) holds it.
 */
export class MemberNetwork {
  readonly slot: number;
  readonly ns: string;

  private constructor(slot: number) {
    this.slot = slot;
    this.ns = `occs-lb-${process.pid}-${slot}`;
  }

  /** The member's address, inside its namespace. */
  get host(): string {
    return `${NET}.${this.slot}.2`;
  }

  private get link(): string {
    return `olbv${this.slot}`;
  }

  private get subnet(): string {
    return `${NET}.${this.slot}.0/24`;
  }

  /** Makes a member network on a free slot (needs root and iproute2). */
  static create(): MemberNetwork {
    if (spawnSync('ip', ['-V']).error) throw new Error('a partitionable etcd cluster needs iproute2 (`ip`): apt-get install -y iproute2');
    removeStale();
    // Forwarding in the root namespace carries the members' traffic to each other.
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    const start = Math.floor(Math.random() * SLOTS);
    for (let i = 0; i < SLOTS; i++) {
      const slot = (start + i) % SLOTS;
      if (!ip(['link', 'add', `olbv${slot}`, 'type', 'veth', 'peer', 'name', `olbp${slot}`], { check: false }).ok) continue;
      const network = new MemberNetwork(slot);
      try {
        network.build();
      } catch (error) {
        network.remove();
        throw error;
      }
      return network;
    }
    throw new Error('no free slot for a member network (10.211.0-249.0/24)');
  }

  private build(): void {
    clearRules(this.slot); // rules a crashed run left for this slot's name (its link is ours now)
    ip(['netns', 'add', this.ns]);
    ip(['link', 'set', `olbp${this.slot}`, 'netns', this.ns]);
    ip(['addr', 'add', `${NET}.${this.slot}.1/24`, 'dev', this.link]);
    ip(['link', 'set', this.link, 'up']);
    ip(['-n', this.ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', this.ns, 'addr', 'add', `${this.host}/24`, 'dev', `olbp${this.slot}`]);
    ip(['-n', this.ns, 'link', 'set', `olbp${this.slot}`, 'up']);
    ip(['-n', this.ns, 'route', 'add', 'default', 'via', `${NET}.${this.slot}.1`]);
  }

  /** A command run inside the namespace (`ip netns exec` execs it: the pid is the command's). */
  wrap(argv: string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', this.ns, ...argv]];
  }

  /** Drops, silently, every packet between this member and `other`, both ways. */
  cutFrom(other: MemberNetwork): void {
    for (const rule of this.rules(other)) ip(['rule', 'add', ...rule]);
  }

  /** Lets packets between this member and `other` pass again. */
  rejoin(other: MemberNetwork): void {
    for (const rule of this.rules(other)) ip(['rule', 'del', ...rule], { check: false });
  }

  private rules(other: MemberNetwork): string[][] {
    return [
      ['pref', '1000', 'iif', this.link, 'to', other.subnet, 'blackhole'],
      ['pref', '1000', 'iif', other.link, 'to', this.subnet, 'blackhole'],
    ];
  }

  /** Removes the namespace, the link and the rules that name them. */
  remove(): void {
    clearSlot(this.slot, this.ns);
  }
}
