import { describe, expect, it } from 'vitest';
import { exposedListenersSocket, parseSections, serverCounts } from '../../src/haproxy/config-sections.js';
import { parseHaproxyMessages } from '../../src/haproxy/messages.js';
import { parseShowProc } from '../../src/haproxy/show-proc.js';

describe('parseHaproxyMessages', () => {
  it("reads level, file, line and message, in both of HAProxy's spellings", () => {
    const output = [
      '[NOTICE]   (991) : haproxy version is 2.6.12-1+deb12u4',
      "[ALERT]    (991) : config : parsing [/tmp/x.cfg:11] : unknown keyword 'bogus' in 'frontend' section",
      "[ALERT]    (991) : config : [/tmp/x.cfg:13] : 'server b/s1' : unknown keyword 'chek'",
      "[ALERT]    (991) : config : Parsing [/tmp/x.cfg:10]: backend 'b' has the same name as backend 'b'",
      "[WARNING]  (993) : config : log format ignored for frontend 'f' since it has no log address.",
    ].join('\n');
    expect(parseHaproxyMessages(output)).toEqual([
      { level: 'notice', message: 'haproxy version is 2.6.12-1+deb12u4' },
      { level: 'alert', file: '/tmp/x.cfg', line: 11, message: "unknown keyword 'bogus' in 'frontend' section" },
      { level: 'alert', file: '/tmp/x.cfg', line: 13, message: "'server b/s1' : unknown keyword 'chek'" },
      { level: 'alert', file: '/tmp/x.cfg', line: 10, message: "backend 'b' has the same name as backend 'b'" },
      { level: 'warning', message: "log format ignored for frontend 'f' since it has no log address." },
    ]);
  });
});

describe('config sections', () => {
  const config = [
    'global',
    '    stats socket /run/admin.sock mode 600 level admin expose-fd listeners',
    'listen stats',
    '    bind *:1936',
    'backend web from defaults_x',
    '    server a 10.0.0.1:80 check # first',
    '    # server commented 10.0.0.9:80',
    '    server-template srv 3 10.0.0.2:80',
    '  backend indented',
    '    server b 10.0.0.3:80',
    'backend empty',
    '    cache-use mycache',
    'listen both',
    '    server c 10.0.0.4:80',
  ].join('\n');

  it('counts servers per backend (server-template slots too); a listen counts only with servers', () => {
    expect(serverCounts(parseSections(config))).toEqual({ web: 4, indented: 1, empty: 0, both: 1 });
  });

  it('finds the stats socket that hands over listeners (for -x)', () => {
    expect(exposedListenersSocket(parseSections(config))).toBe('/run/admin.sock');
    expect(exposedListenersSocket(parseSections('global\n    stats socket /run/a.sock level admin\n'))).toBeUndefined();
  });
});

describe('parseShowProc', () => {
  it('tells current workers from old ones, and reads the failed counter', () => {
    const text = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>',
      '17217           master          2 [failed: 1]   0d00h00m02s     2.6.12-1+deb12u4',
      '# workers',
      '17311           worker          0               0d00h00m01s     2.6.12-1+deb12u4',
      '# old workers',
      '17218           worker          1               0d00h00m02s     2.6.12-1+deb12u4',
      '# programs',
      '',
    ].join('\n');
    expect(parseShowProc(text)).toEqual({
      master: { pid: 17217, reloads: 2, failed: 1 },
      workers: [
        { pid: 17311, reloads: 0, current: true },
        { pid: 17218, reloads: 1, current: false },
      ],
    });
    expect(parseShowProc('Unknown command')).toBeUndefined();
  });
});
