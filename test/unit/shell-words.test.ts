import { describe, expect, it } from 'vitest';
import { splitShellWords } from '../../src/util/shell-words.js';

describe('splitShellWords', () => {
  it.each([
    ['haproxy -W -db -f /etc/haproxy/haproxy.cfg', ['haproxy', '-W', '-db', '-f', '/etc/haproxy/haproxy.cfg']],
    ['haproxy -f "/my dir/haproxy.cfg"', ['haproxy', '-f', '/my dir/haproxy.cfg']],
    ["haproxy -f '/a b/$HOME'", ['haproxy', '-f', '/a b/$HOME']],
    ['a "x\\"y" b\\ c', ['a', 'x"y', 'b c']],
    ['  spaced   out  ', ['spaced', 'out']],
    ['empty "" word', ['empty', '', 'word']],
  ])('%s', (line, words) => {
    expect(splitShellWords(line)).toEqual(words);
  });

  it('refuses an unclosed quote', () => {
    expect(splitShellWords('haproxy -f "/etc/haproxy.cfg')).toBeUndefined();
    expect(splitShellWords("haproxy -f '/etc")).toBeUndefined();
  });
});
