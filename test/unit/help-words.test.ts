import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/config/options.js';
import type { CommandName, SettingEntry } from '../../src/config/setting-entry.js';
import { SETTINGS } from '../../src/config/table.js';
import { manPage, referenceMarkdown } from '../../src/docs/reference.js';
import { PROGRAM_HELP_AFTER, WATCH_HELP_AFTER } from '../../src/help.js';

const help = (name: string, command: CommandName) =>
  helpText(
    (SETTINGS as readonly SettingEntry[]).find((e) => e.name === name)!,
    command,
  );

describe('the help says what an option does', () => {
  it('--shutdown-delay: keeps serving after SIGTERM so the readiness probe fails first', () => {
    expect(WATCH_HELP_AFTER).not.toContain('serves on first');
    expect(WATCH_HELP_AFTER).toContain('--shutdown-delay DURATION keeps serving for DURATION before stopping, /readyz failing meanwhile');
  });

  it('--interval: the old image polled every 5s (no default of 5s)', () => {
    expect(help('interval', 'watch')).toContain('(the old image polled every 5s)');
  });

  it("--kv-user: how etcd's token is got", () => {
    expect(help('kvUser', 'render')).toContain('with its password occs-lb logs in (/v3/auth/authenticate) and sends the token it gets with every request');
  });

  it('--kv-max-stale: stale reads only', () => {
    expect(help('kvMaxStale', 'render')).toContain('--kv-consistency stale reads only');
  });

  it('--haproxy-config: reload (which has no --out) has a text of its own', () => {
    expect(help('haproxyConfig', 'reload')).not.toContain('--out');
    expect(help('haproxyConfig', 'reload')).toContain("default: the config file's single destination, else /etc/haproxy/haproxy.cfg");
    expect(help('haproxyConfig', 'watch')).toContain('default: --out, or');
  });

  it("a --no-x switch's variable is OCCS_LB_X=false: in the top-level help, each command's, the reference and the man page", () => {
    expect(PROGRAM_HELP_AFTER).toContain('a --no-x switch is OCCS_LB_X=false: --no-check is OCCS_LB_CHECK=false');
    expect(help('check', 'render')).toContain('(env: OCCS_LB_CHECK=false)');
    expect(help('runtimeApi', 'watch')).toContain('(env: OCCS_LB_RUNTIME_API=false)');
    expect(referenceMarkdown()).toContain('| `OCCS_LB_CHECK` (false turns it off) |');
    expect(manPage('0.0.0')).toContain('Environment: OCCS_LB_CHECK (false turns it off).');
  });
});
