import { describe, expect, it } from 'vitest';
import { OccsError } from '../../src/errors.js';
import { parseKvFile } from '../../src/kv/file-format.js';

const seed = [
  { key: '/apps/myapp/containers/one', value: '10.9.1.1:32001' },
  { key: '/apps/myapp/containers/two', value: '10.9.1.2:32002' },
];

describe('parseKvFile', () => {
  it('reads seed-style key=value lines with comments, blank lines and CRLF endings', () => {
    const text = '# backends\r\n\r\napps/myapp/containers/one=10.9.1.1:32001\r\n  # indented comment\n/apps/myapp/containers/two=10.9.1.2:32002\n';
    expect(parseKvFile(text, 'kv.properties')).toEqual(seed);
  });

  it('keeps everything after the first "=" as the value, unaltered', () => {
    expect(parseKvFile('a/b= x=y \n', 'f')).toEqual([{ key: '/a/b', value: ' x=y ' }]);
  });

  it('reads a flat JSON object', () => {
    const text = JSON.stringify({ 'apps/myapp/containers/one': '10.9.1.1:32001', 'apps/myapp/containers/two': '10.9.1.2:32002', 'apps/n': 5, 'apps/z': null });
    expect(parseKvFile(text, 'kv.json')).toEqual([...seed, { key: '/apps/n', value: '5' }, { key: '/apps/z', value: '' }]);
  });

  it('reads the array `consul kv export` writes, decoding base64 and dropping folder keys', () => {
    const text = JSON.stringify([
      { key: 'apps/myapp/containers/', flags: 0, value: '' },
      { key: 'apps/myapp/containers/one', flags: 0, value: Buffer.from('10.9.1.1:32001').toString('base64') },
      { key: 'apps/myapp/containers/two', flags: 0, value: Buffer.from('10.9.1.2:32002').toString('base64') },
    ]);
    expect(parseKvFile(text, 'export.json')).toEqual(seed);
  });

  it('names the file and line of a malformed line', () => {
    const error = (() => {
      try {
        parseKvFile('a=1\nthis line has no equals sign\n', '/tmp/kv.properties');
      } catch (e) {
        return e as OccsError;
      }
    })();
    expect(error).toBeInstanceOf(OccsError);
    expect(error?.message).toContain('/tmp/kv.properties:2');
    expect(error?.exitCode).toBe(3);
  });

  it('refuses JSON whose values are objects', () => {
    expect(() => parseKvFile('{"a": {"b": 1}}', 'kv.json')).toThrow(/value of "a" is not a string/);
  });
});
