const cache = new Map<string, RegExp>();

/**
 * confd's key patterns (Go's path.Match): `*` is any run of characters but `/`, `?` one such
 * character, `[abc]`/`[!a-z]`/`[^a-z]` a class. Anything else matches itself.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re) return re;
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const backwards = /(.)-(.)/.exec(pattern.slice(i + 1, close).replace(/^[!^]/, ''));
        if (backwards && backwards[1]! > backwards[2]!) {
          throw new Error(
            `key pattern "${pattern}": the range ${backwards[1]}-${backwards[2]} in ${pattern.slice(i, close + 1)} runs backwards (write ${backwards[2]}-${backwards[1]})`,
          );
        }
        let body = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        source += `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  try {
    re = new RegExp(`^${source}$`);
  } catch {
    throw new Error(`key pattern "${pattern}" is not one confd takes: * and ? match within one key level, [a-z], [!a-z] a class of characters`);
  }
  cache.set(pattern, re);
  return re;
}
