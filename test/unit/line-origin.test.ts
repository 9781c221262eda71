import { describe, expect, it } from 'vitest';
import { templateLineOf } from '../../src/template/line-origin.js';

const template = [
  '<%# a comment %>',
  'frontend main',
  '    bind <%= settings.bind %>:<%= settings.frontendPort %>',
  '<% if (tls.serving) { -%>',
  '    bind <%= settings.bind %>:<%= tls.port %> ssl crt-list <%= tls.crtList %>',
  '<% } -%>',
  '<% for (const s of servers()) { -%>',
  '    server <%= s.name %> <%= s.address %> check',
  '    server <%= s.name %> <%= s.address %> backup',
  '<% } -%>',
  '    timeout client 30s',
].join('\n');

describe('the template line that printed a line of the config', () => {
  it('is the one line whose text, its tags standing for anything, matches', () => {
    expect(templateLineOf(template, '    bind *:5000')).toBe(3);
    expect(templateLineOf(template, '    bind *:8443 ssl crt-list /etc/haproxy/haproxy.crt-list')).toBe(5);
    expect(templateLineOf(template, '    server one 10.0.0.1:80 check')).toBe(8);
    expect(templateLineOf(template, '    timeout client 30s')).toBe(11);
    expect(templateLineOf(template, 'frontend main')).toBe(2);
  });

  it('is none when no line, or more than one, could have printed it', () => {
    expect(templateLineOf(template, '    option httplog')).toBeUndefined();
    expect(templateLineOf(`${template}\n    timeout client 30s`, '    timeout client 30s')).toBeUndefined();
  });
});
