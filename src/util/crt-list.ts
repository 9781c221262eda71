/** HAProxy's crt-list files: one bundle file per line, then its options and filters. */

/** A crt-list naming other files for its bundles (`copies`: path → copy), line by line: a bundle's path may begin another's. */
export function crtListNaming(text: string, copies: ReadonlyMap<string, string>): string {
  return text
    .split('\n')
    .map((line) => {
      const [file = '', ...rest] = line.split(' ');
      const copy = copies.get(file);
      return copy ? [copy, ...rest].join(' ') : line;
    })
    .join('\n');
}
