import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { ConsulKvServer } from '../support/consul-kv-server.js';

let consul: ConsulKvServer | undefined;

afterEach(async () => {
  await consul?.stop();
  consul = undefined;
});

describe('an etcd:// URL pointed at a store that is not etcd', () => {
  it('says the server does not look like etcd and hints at consul:// or http://', async () => {
    consul = await new ConsulKvServer().start();
    consul.put('x/one', '10.9.1.1:32001');
    const result = await runCli(['render', '--kv', `etcd://${consul.address}`, '--prefix', 'x']);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`does not look like etcd's v3 JSON gateway (it answered 404 to /v3/kv/range)`);
    expect(result.stderr).toContain('if it is Consul or OCCS, use consul:// or http://; else check the host and port');
    expect(result.stderr).not.toContain('HTTP 404');
  });
});
