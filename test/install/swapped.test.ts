import { describe, expect, it } from 'vitest';
import { swapped } from '../../src/install/stage.js';

describe('swapped: a config copy that reads the staged map files', () => {
  it('replaces every use of each path, in order, and never searches a copy path again', () => {
    const text = 'use_backend %[req.hdr(host),map(/d/hosts.map)]\nmap(/d/paths.map) map(/d/hosts.map)\n';
    const swaps = new Map([
      ['/d/hosts.map', '/d/.hosts.map.1.tmp'],
      // Would match inside the first copy's path if that were searched again.
      ['hosts.map', 'WRONG'],
      ['/d/paths.map', '/d/.paths.map.1.tmp'],
    ]);
    expect(swapped(text, swaps).join('')).toBe('use_backend %[req.hdr(host),map(/d/.hosts.map.1.tmp)]\nmap(/d/.paths.map.1.tmp) map(/d/.hosts.map.1.tmp)\n');
  });

  it('as the plain replacement does, for random texts and paths', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 300; round++) {
      const words = ['/a.map', '/b.map', 'x', ' ', '\n', '/a.ma'];
      const text = Array.from({ length: rand(30) }, () => words[rand(words.length)]).join('');
      const swaps = new Map([
        ['/a.map', `/.a.map.${round}.tmp`],
        ['/b.map', `/.b.map.${round}.tmp`],
      ]);
      const plain = [...swaps].reduce((t, [path, copy]) => t.split(path).join(copy), text);
      expect(swapped(text, swaps).join('')).toBe(plain);
    }
  });
});
