import { describe, expect, it } from 'vitest';
import { notFromTheGateway } from '../../src/kv/etcd-refusal.js';
import { bodyKind } from '../../src/kv/store-errors.js';

const HTML = '<!DOCTYPE HTML>\n<html lang="en"><head><meta charset="utf-8"><title>Error response</title></head></html>';

describe("which answers cannot come from etcd's JSON gateway", () => {
  it.each([
    [501, HTML, '501'],
    [404, 'no such endpoint', '404'],
    [405, '', '405'],
    [200, HTML, '200 with an HTML page'],
    [500, 'Internal Server Error', '500 with a body that is not JSON'],
    [502, '', '502 with an empty body'],
    [200, '{"ok": true}', "200 without etcd's header"],
    [200, '[1, 2]', "200 with JSON that is not etcd's"],
    [500, '{"status": "down"}', '500 with JSON that is not an etcd error'],
  ])('HTTP %i %j: %s', (status, text, answered) => {
    expect(notFromTheGateway(status, text)).toBe(answered);
  });

  it.each([
    [200, '{"header": {"revision": "7"}, "kvs": []}'],
    [200, '{"header": {"cluster_id": "1"}, "count": "0"}'],
    [503, '{"error": "etcdserver: no leader", "message": "etcdserver: no leader", "code": 14}'],
    [401, '{"error": "etcdserver: invalid auth token", "code": 16}'],
    [400, '{"code": 3, "message": "etcdserver: user name is empty"}'],
    [500, '{"message": "etcdserver: request timed out"}'],
  ])("keeps etcd's own answers: HTTP %i %s", (status, text) => {
    expect(notFromTheGateway(status, text)).toBeUndefined();
  });

  it('names a body by its kind, never by its text', () => {
    expect(bodyKind('  <html><body>x</body></html>')).toBe('an HTML page');
    expect(bodyKind(Buffer.from('{"a": 1}'))).toBeUndefined();
  });
});
