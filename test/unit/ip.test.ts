import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { isIPv4, isIPv6 } from '../../src/values/ip.js';

const samples = [
  '0.0.0.0',
  '10.9.1.1',
  '255.255.255.255',
  '256.1.1.1',
  '01.2.3.4',
  '1.2.3',
  '1.2.3.4.5',
  '1.2.3.-1',
  ' 1.2.3.4',
  '1.2.3.4 ',
  '::',
  '::1',
  '2001:db8::5',
  '::ffff:192.0.2.1',
  'fe80::1',
  'fe80::1%eth0',
  '1:2:3:4:5:6:7:8',
  '1:2:3:4:5:6:7:8:9',
  '::g',
  '1::2::3',
  '12345::',
  ':1',
  ':::',
  '1:2:3:4:5:6:7::',
  '::1.2.3.4',
  '::1.2.3',
  '1:2:3:4:5:6:1.2.3.4',
  '1:2:3:4:5:6:7:1.2.3.4',
  'ABCD:EF01::',
  '[::1]',
  '::1]',
  'localhost',
  '',
  '1:2:3:4:5:6:7:8/64',
  '::ffff:01.2.3.4',
];

describe('IP checks without node:net', () => {
  it.each(samples)('%j gives the same answers as node:net', (text) => {
    expect(isIPv4(text)).toBe(net.isIPv4(text));
    expect(isIPv6(text)).toBe(net.isIPv6(text) && !text.includes('%'));
  });
});
