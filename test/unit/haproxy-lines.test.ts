import { describe, expect, it } from 'vitest';
import { haproxyLineLevel } from '../../src/haproxy/messages.js';

// Lines HAProxy 2.6.12 (Debian 12) printed under `haproxy -W -db`, captured as they came: a
// reload (SIGUSR2, and `reload` on the master CLI), a soft stop (SIGUSR1, as watch stops it), a
// SIGTERM to the master, a worker killed with SIGKILL, a reload of a broken config, and the
// server changes occs-lb makes through the runtime API.

/** A reload and a stop that went as planned: at info, whatever HAProxy tagged them. */
const ORDINARY = [
  '[NOTICE]   (2329) : New worker (2339) forked',
  '[NOTICE]   (2329) : Loading success.',
  '[NOTICE]   (2329) : Reloading HAProxy',
  '[WARNING]  (2339) : Proxy main stopped (cumulated conns: FE: 0, BE: 0).',
  '[WARNING]  (2339) : Proxy <HTTPCLIENT> stopped (cumulated conns: FE: 0, BE: 0).',
  '[WARNING]  (3030) : CLI : Proxy stats stopped (cumulated conns: FE: 0, BE: 0).',
  '[NOTICE]   (2329) : haproxy version is 2.6.12-1+deb12u4',
  '[NOTICE]   (2329) : path to executable is /usr/sbin/haproxy',
  '[WARNING]  (2329) : Former worker (2339) exited with code 0 (Exit)',
  '[WARNING]  (2329) : Exiting Master process...',
  '[WARNING]  (2329) : Current worker (2385) exited with code 0 (Exit)',
  '[WARNING]  (2329) : All workers exited. Exiting... (0)',
  // The same events as HAProxy 2.4 words them (from its source: not captured here).
  '[WARNING] 303/161811 (12) : Reexecuting Master process',
  '[WARNING] 303/161811 (14) : Stopping frontend main in 0 ms.',
  '[WARNING] 303/161813 (12) : Former worker #1 (14) exited with code 0 (Exit)',
];

/** occs-lb's own runtime changes (add, maintenance, drain, delete) and a health check passing again: at info. */
const SERVER_CHANGES = [
  "[NOTICE]   (3030) : CLI : 'server b/n1' : New server registered.",
  '[WARNING]  (3030) : Server b/n1 is UP/READY (leaving forced maintenance).',
  '[WARNING]  (3030) : CLI : Server b/n2 is UP/READY (leaving forced maintenance).',
  '[WARNING]  (3030) : CLI : Server b/n1 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.',
  '[WARNING]  (3030) : Server b/n1 is UP (leaving forced drain).',
  '[WARNING]  (3030) : CLI : Server b/n1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
  '[WARNING]  (3030) : Server b/n1 was DOWN and now enters maintenance.',
  '[NOTICE]   (3030) : CLI : Server deleted.',
  '[WARNING]  (3030) : Server b/s1 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.',
];

/** Problems: each keeps HAProxy's level. */
const PROBLEMS: Array<[string, 'warn' | 'error']> = [
  [
    '[WARNING]  (2339) : Server b/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    'warn',
  ],
  [
    '[WARNING]  (3030) : CLI : Server b/n2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.',
    'warn',
  ],
  ["[ALERT]    (2339) : backend 'b' has no server available!", 'error'],
  ["[ALERT]    (3030) : CLI : backend 'b' has no server available!", 'error'],
  // A worker killed, or stopped by SIGTERM instead of finishing its requests.
  ['[ALERT]    (2553) : Current worker (2561) exited with code 137 (Killed)', 'error'],
  ['[ALERT]    (2553) : exit-on-failure: killing every processes with SIGTERM', 'error'],
  ['[WARNING]  (2553) : All workers exited. Exiting... (137)', 'warn'],
  ['[WARNING]  (2553) : Current worker (2561) exited with code 1 (Exit)', 'warn'],
  ['[WARNING] 303/161813 (12) : Reexecuting Master process in waitpid mode', 'warn'],
  ['[ALERT]    (2496) : Current worker (2530) exited with code 143 (Terminated)', 'error'],
  // A reload of a config that does not load: the old worker goes on.
  ["[ALERT]    (3643) : config : parsing [cap5.cfg:19] : unknown keyword 'bogus_directive' in 'backend' section", 'error'],
  ['[ALERT]    (3643) : config : Fatal errors found in configuration.', 'error'],
  ['[WARNING]  (3643) : Loading failure!', 'warn'],
  ["[WARNING]  (3881) : config : [cap6.cfg:18] : 'server b/nx' : could not resolve address 'nonexistent.invalid', disabling server.", 'warn'],
  // Maintenance HAProxy entered by itself, for a cause (its format, with one of its DNS causes).
  ['[WARNING]  (3030) : Server b/rx is going DOWN for maintenance (DNS timeout status). 0 active and 0 backup servers left.', 'warn'],
  ['[WARNING]  (3030) : Server b/n1 is DOWN/READY (leaving forced maintenance).', 'warn'],
];

describe('the level of a line the supervised HAProxy printed', () => {
  it.each(ORDINARY)('logs an ordinary reload or stop line at info: %s', (line) => {
    expect(haproxyLineLevel(line)).toBe('info');
  });

  it.each(SERVER_CHANGES)('logs a runtime server change at info: %s', (line) => {
    expect(haproxyLineLevel(line)).toBe('info');
  });

  it.each(PROBLEMS)('keeps a problem at its level: %s', (line, level) => {
    expect(haproxyLineLevel(line)).toBe(level);
  });

  it('reads the tag only at the start of the line; untagged output is info', () => {
    expect(haproxyLineLevel('a backend printed [ALERT] in its name')).toBe('info');
    expect(haproxyLineLevel('[ALERT] no colon at all')).toBe('error');
    expect(haproxyLineLevel('[EMERG]    (1) : out of memory')).toBe('error');
  });
});
