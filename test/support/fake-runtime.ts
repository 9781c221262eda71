import type { RuntimeChannel } from '../../src/haproxy/runtime-channel.js';

interface Slot {
  id: number;
  addr: string;
  port: number;
  admin: number;
  weight: number;
}

/**
 * An in-process stand-in for a worker's runtime API, for tests of the order of what watch does
 * (no HAProxy spawned): it keeps a server table per backend and answers the commands the runtime
 * path sends as HAProxy 2.6 words them. `refuse` makes every command matching it fail as
 * HAProxy's refusal would. Tests of what HAProxy itself does use the real one.
 */
export class FakeRuntime implements RuntimeChannel {
  readonly description = 'an in-process runtime API';
  readonly sent: string[] = [];
  refuse?: RegExp;
  private readonly backends = new Map<string, Map<string, Slot>>();

  /** Loads what a config's server lines say (`backend` → `name host:port`…), as HAProxy does at start or reload. */
  load(servers: Record<string, string[]>): void {
    this.backends.clear();
    for (const [backend, lines] of Object.entries(servers)) {
      const table = new Map<string, Slot>();
      lines.forEach((line, i) => {
        const [name, address] = line.split(' ') as [string, string];
        const [addr, port] = address.split(':') as [string, string];
        table.set(name, { id: i + 1, addr, port: Number(port), admin: 0, weight: 1 });
      });
      this.backends.set(backend, table);
    }
  }

  async send(command: string): Promise<string> {
    this.sent.push(command);
    if (this.refuse?.test(command)) return 'Refused by the test.\n';
    return this.answer(command.split(' '));
  }

  async sendPayload(command: string): Promise<string> {
    this.sent.push(command);
    return 'Refused by the test: no payloads here.\n';
  }

  async sendAll(commands: readonly string[]): Promise<string> {
    let out = '';
    for (const c of commands) out += await this.send(c);
    return out;
  }

  private answer(w: string[]): string {
    const [verb, what] = w;
    if (verb === 'show' && what === 'servers') return this.state(w[3]!);
    if (verb === 'show' && what === 'stat') return this.stat(w[2]!, Number(w[4]));
    const [backend, name] = (w[2] ?? '').split('/') as [string, string];
    const table = this.backends.get(backend);
    if (verb === 'add' && what === 'server') {
      if (!table) return 'No such backend.\n';
      const [addr, port] = w[3]!.split(':') as [string, string];
      const weight = w.indexOf('weight') > 0 ? Number(w[w.indexOf('weight') + 1]) : 1;
      const id = w.indexOf('id') > 0 ? Number(w[w.indexOf('id') + 1]) : Math.max(0, ...[...table.values()].map((s) => s.id)) + 1;
      table.set(name, { id, addr, port: Number(port), admin: 1, weight });
      return 'New server registered.\n';
    }
    const slot = table?.get(name);
    if (!slot) return verb === 'get' ? 'No such server.\n\n' : 'No such server.\n';
    if (verb === 'get') return `${slot.weight} (initial 1)\n\n`;
    if (verb === 'del') return table!.delete(name) ? 'Server deleted.\n' : 'No such server.\n';
    if (verb === 'enable' && what === 'server') slot.admin = 0;
    if (verb === 'set' && w[3] === 'weight') slot.weight = Number(w[4]);
    if (verb === 'set' && w[3] === 'state') slot.admin = w[4] === 'maint' ? 1 : 0;
    if (verb === 'set' && w[3] === 'addr') [slot.addr, slot.port] = [w[4]!, Number(w[6])];
    return verb === 'set' && w[3] === 'addr' ? 'IP changed.\n' : '\n';
  }

  /** A server as the fake runs it, to change behind the back of what is tested. */
  server(backend: string, name: string): Slot | undefined {
    return this.backends.get(backend)?.get(name);
  }

  /** `show stat BACKEND 4 ID`: a header (a few of HAProxy's 2.6 columns, in its order) and the server of that id, if any. */
  private stat(backend: string, id: number): string {
    const rows = [...(this.backends.get(backend) ?? new Map<string, Slot>()).entries()]
      .filter(([, s]) => s.id === id)
      .map(([name, s]) =>
        [
          backend,
          name,
          s.admin & 0x23 ? 'MAINT' : 'UP',
          s.weight,
          2,
          s.id,
          '"a, b"',
          s.addr.includes(':') ? `[${s.addr}]:${s.port}` : `${s.addr}:${s.port}`,
          s.weight,
          '',
        ].join(','),
      );
    return ['# pxname,svname,status,weight,iid,sid,check_desc,addr,uweight,', ...rows, '', ''].join('\n');
  }

  /** `show servers state BACKEND`: the version line, the header, then one line of 19+ fields per server. */
  private state(backend: string): string {
    const rows = [...(this.backends.get(backend) ?? new Map<string, Slot>()).entries()].map(([name, s]) =>
      [1, backend, s.id, name, s.addr, 2, s.admin, s.weight, s.weight, 0, 1, 0, 0, 0, 0, 0, 0, '-', s.port].join(' '),
    );
    return ['1', '# be_id be_name srv_id srv_name srv_addr …', ...rows, ''].join('\n');
  }
}
