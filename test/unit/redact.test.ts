import { describe, expect, it } from 'vitest';
import { printable } from '../../src/log.js';
import { configContext } from '../../src/haproxy/check.js';
import { bodySnippet } from '../../src/kv/store-errors.js';
import { isFiller, maskEcho, maskKeyBlocks, Redactor, secretForms, shortSecretNotices, withRedactor } from '../../src/util/redact.js';

const TOKEN = 'q"uo\\te-T0ken-8f2';
/** 28 characters; a store may echo its first 14 ("token prefix …"). */
const LONG_TOKEN = 'tKn-9f3QzX7-LmPq2Rv8Ws4Yh6Jb';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('Redactor', () => {
  const redactor = new Redactor([TOKEN, 'occspass']);

  it.each([
    ['as is', `Bearer ${TOKEN}`],
    ['JSON-escaped', JSON.stringify({ token: TOKEN })],
    ['upper-cased', TOKEN.toUpperCase()],
    ['lower-cased', TOKEN.toLowerCase()],
    ['split by a line break and spaces', `${TOKEN.slice(0, 5)}\n    ${TOKEN.slice(5)}`],
    ['split by an invisible character', `${TOKEN.slice(0, 5)}\u200b${TOKEN.slice(5)}`],
    ['URL-encoded', encodeURIComponent(TOKEN)],
    ['JSON-escaped the Go way (<, > and & as \\u00XX)', JSON.stringify(`${TOKEN}<&>`).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)],
    ['hex', Buffer.from(TOKEN).toString('hex')],
    ['base64', b64(TOKEN)],
    ['base64 at each alignment inside a longer text', [b64(`{"t":"${TOKEN}"}`), b64(`{"tk":"${TOKEN}"}`), b64(`{"tok":"${TOKEN}"}`)].join(' ')],
    ['URL-safe base64', b64(`>>${TOKEN}`).replace(/\+/g, '-').replace(/\//g, '_')],
  ])('masks the token %s, in every line and where it is echoed', (_, text) => {
    for (const out of [redactor.apply(`before ${text} after`), redactor.echo(`before ${text} after`)]) {
      expect(out).toMatch(/^before .*\*\*\*.* after$/s);
      expect(out.toLowerCase()).not.toContain('t0ken-8f');
    }
  });

  it('masks a secret with <, > and & as Go encodes it in JSON', () => {
    const secret = 'Tr0ub&dor<3>horse';
    const echoed = JSON.stringify(secret).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
    expect(new Redactor([secret]).apply(`{"error":${echoed}}`)).toBe('{"error":"***"}');
  });

  it('leaves other text alone', () => {
    expect(redactor.apply('nothing secret here: 10.0.0.1:80')).toBe('nothing secret here: 10.0.0.1:80');
    expect(redactor.echo('nothing secret here: 10.0.0.1:80')).toBe('nothing secret here: 10.0.0.1:80');
  });

  it.each([
    ['the first 14 characters', (t: string) => `error: token prefix ${t.slice(0, 14)}`, 'error: token prefix ***'],
    ['8 characters from the middle, upper-cased', (t: string) => `saw ${t.slice(9, 17).toUpperCase()} here`, 'saw *** here'],
    ['the last 10, split by a line break', (t: string) => `tail ${t.slice(18, 23)}\n  ${t.slice(23)}.`, 'tail ***.'],
    ['12 in base64', (t: string) => `b=${b64(t.slice(0, 12))}`, 'b=***'],
  ])('masks any run of 8 or more characters of a long secret: %s', (_, echo, masked) => {
    const r = new Redactor([LONG_TOKEN]);
    expect(r.apply(echo(LONG_TOKEN))).toBe(masked);
    expect(r.echo(echo(LONG_TOKEN))).toBe(masked);
  });

  it('in plain ASCII text, masks a run wherever it starts and wherever whitespace splits it, and returns text with none as it was', () => {
    const r = new Redactor([LONG_TOKEN]);
    for (let start = 0; start + 8 <= LONG_TOKEN.length; start++) {
      const run = LONG_TOKEN.slice(start, start + 8);
      for (let split = 0; split <= 8; split++) {
        const shown = `${run.slice(0, split)}${[' ', '\t', '\n  ', '\r\n'][split % 4]}${run.slice(split)}`;
        const text = `x=${start} ${split % 2 ? shown.toUpperCase() : shown} done`;
        expect(r.apply(text)).toMatch(new RegExp(`^x=${start}\\s+\\*\\*\\*\\s+done$`));
      }
    }
    const plain = `GET /apps/web/containers/s00042 10.0.0.42:8080 ${LONG_TOKEN.slice(0, 7)}/x/${LONG_TOKEN.slice(7, 14)}\n\t(200)`;
    expect(r.apply(plain)).toBe(plain);
  });

  it('finds the runs of a secret added after a text was looked at', () => {
    const r = new Redactor(['an-older-secret-value']);
    expect(r.apply(`token ${LONG_TOKEN}`)).toBe(`token ${LONG_TOKEN}`);
    r.add(LONG_TOKEN);
    expect(r.apply(`token ${LONG_TOKEN}`)).toBe('token ***');
  });

  it('of printable ASCII, takes only whitespace for a filler (the quick look at plain text drops just that)', () => {
    const fillers = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).filter(isFiller);
    expect(fillers).toEqual([' ']);
    expect([...'\t\n\v\f\r'].every(isFiller)).toBe(true);
  });

  it('masks a run of 8 characters of a long secret, not one of 7 (which ordinary text may hold)', () => {
    const r = new Redactor([LONG_TOKEN]);
    expect(r.apply(`a ${LONG_TOKEN.slice(3, 11)} b`)).toBe('a *** b');
    expect(r.apply(`a ${LONG_TOKEN.slice(0, 7)} b ${LONG_TOKEN.slice(7, 14)}`)).toBe(`a ${LONG_TOKEN.slice(0, 7)} b ${LONG_TOKEN.slice(7, 14)}`);
  });

  it('does not mask a secret shorter than 8 characters in ordinary text, however often the text holds it', () => {
    const short = new Redactor(['haproxy', 'e']);
    const text = "haproxy -c rejected templates/haproxy.cfg.ejs at line 3: unknown keyword 'server'";
    expect(short.apply(text)).toBe(text);
    expect(short.deep({ msg: text, source: 'haproxy' })).toEqual({ msg: text, source: 'haproxy' });
  });

  it('masks a short secret where it is echoed: as it is, standing alone, JSON-escaped or URL-encoded', () => {
    const short = new Redactor(['haproxy', 'e', 'abc', 'p"w&x']);
    expect(short.echo("'server web/s1' : unknown keyword 'haproxy'.")).toBe("'server web/s1' : unknown keyword '***'.");
    expect(short.echo('stats auth admin:e')).toBe('stats auth admin:***');
    expect(short.echo('abc ABC a b c xabc')).toBe('*** ABC a b c xabc');
    expect(short.echo(`{"error":${JSON.stringify('bad p"w&x')},"q":"pw=${encodeURIComponent('p"w&x')}"}`)).toBe('{"error":"bad ***","q":"pw=***"}');
  });

  it('masks the secrets of the current run where a config excerpt or HAProxy echoes them, and none outside a run', () => {
    const config = 'listen stats\n    stats uri /haproxy?stats\n    stats auth occsdemo:e\n    bogus line\n';
    const context = withRedactor(new Redactor(['e', 'haproxy']), () => configContext(config, 4));
    expect(context.split('\n')).toEqual([
      '      2 |     stats uri /***?stats',
      '      3 |     stats auth occsdemo:***',
      '>>    4 |     bogus line',
      '      5 | ',
    ]);
    expect(withRedactor(new Redactor(['haproxy']), () => maskEcho('[ALERT] unknown keyword haproxy'))).toBe('[ALERT] unknown keyword ***');
    expect(maskEcho('[ALERT] unknown keyword haproxy')).toBe('[ALERT] unknown keyword haproxy');
  });

  it('warns about each secret too short to mask in every message, without showing it', () => {
    const notices = shortSecretNotices({ 'the token': LONG_TOKEN, 'the stats password': 'haproxy', 'the etcd password': undefined });
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^the stats password has fewer than 8 characters: it is masked only where a store or HAProxy echoes it/);
    expect(notices[0]).not.toContain("'haproxy'");
    expect(shortSecretNotices({ 'the stats password': 'occspass' })).toEqual([]);
  });

  it('masks every string inside a report, before it is encoded', () => {
    const report = { ok: false, errors: [{ message: `echo ${TOKEN}`, line: 3 }], nested: { hint: TOKEN.toUpperCase() } };
    const masked = redactor.deep(report);
    expect(JSON.stringify(masked)).not.toMatch(/t0ken/i);
    expect(masked.errors[0]!.line).toBe(3);
    expect(report.errors[0]!.message).toContain(TOKEN); // the original is not changed
  });

  it('masks the keys of a report as well, and keeps a key named __proto__ a key (from a store: a backend name), never the prototype', () => {
    const secret = JSON.stringify(TOKEN);
    const report = JSON.parse(`{"backends":{"__proto__":{"polluted":${secret}},${secret}:1,"web":2}}`) as { backends: Record<string, unknown> };
    const masked = redactor.deep(report);
    expect(JSON.stringify(masked)).toBe('{"backends":{"__proto__":{"polluted":"***"},"***":1,"web":2}}');
    expect(Object.getPrototypeOf(masked.backends)).toBe(Object.prototype);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it("derives the base64 forms that hold only the secret's own bits", () => {
    const forms = secretForms('abcdefgh');
    expect(forms).toContain('YWJjZGVmZ2');
    for (const prefix of ['', 'x', 'xy']) expect(forms.some((f) => b64(`${prefix}abcdefgh`).includes(f) && f.length >= 6)).toBe(true);
  });
});

describe('bodySnippet', () => {
  it("keeps at most 120 printable ASCII characters of a store's answer, secrets masked first", () => {
    const snippet = bodySnippet(`${'x'.repeat(100)} ${TOKEN.toUpperCase()} ${'y'.repeat(500)}`, [TOKEN]);
    expect(snippet).toMatch(/^: x{100} \*\*\* y+…$/);
    expect(snippet.length).toBeLessThanOrEqual(2 + 120 + 1);
    expect(bodySnippet('bad \u202e\u0000 ünï', [])).toBe(': bad ?? ?n?');
  });

  it('shows none of the 14 characters of a 28-character token that a store echoed', () => {
    const snippet = bodySnippet(`{"error":"invalid token","detail":"token prefix ${LONG_TOKEN.slice(0, 14)}"}`, [LONG_TOKEN]);
    expect(snippet).toBe(': {"error":"invalid token","detail":"token prefix ***"}');
  });

  it("masks the run's short secrets too, as it is echoed", () => {
    const body = 'denied: user occs, password haproxy';
    expect(withRedactor(new Redactor(['haproxy']), () => bodySnippet(body, []))).toBe(': denied: user occs, password ***');
    expect(bodySnippet(body, ['haproxy'])).toBe(': denied: user occs, password ***');
  });

  it('shows no piece of a secret that the cut of a long body split', () => {
    const secret = 's3cr3t-Tr0ub-horse';
    for (const pad of [4080, 4085, 4090, 4095]) expect(bodySnippet(`${' '.repeat(pad)}${secret}`, [secret])).not.toMatch(/s3c|horse|tr0ub/i);
  });
});

describe('printable', () => {
  it('escapes controls, format characters, odd spaces and unassigned code points', () => {
    expect(printable('a\u202eb\u2066c\u200dd\ufeffe\u00adf\u00a0g\u2028h\u0007i\u{e0041}j')).toBe(
      'a\\u202eb\\u2066c\\u200dd\\ufeffe\\u00adf\\u00a0g\\u2028h\\u0007i\\u{e0041}j',
    );
    expect(printable('plain é ✓ 💥 text')).toBe('plain é ✓ 💥 text');
  });
});

describe('private keys in printed text', () => {
  it('masks a PEM private key block whole, in every redaction, whatever key it is', () => {
    const key = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB3Zk0aXq1secretbody\nAwEHoUQDQgAE\n-----END EC PRIVATE KEY-----';
    const text = `cert\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n${key}\nafter`;
    for (const masked of [maskKeyBlocks(text), new Redactor().apply(text), new Redactor().echo(text)]) {
      expect(masked).toContain('-----BEGIN CERTIFICATE-----');
      expect(masked).toContain('[private key masked]\nafter');
      expect(masked).not.toContain('secretbody');
    }
    expect(maskKeyBlocks('-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN cut short')).toBe('[private key masked]');
  });
});
