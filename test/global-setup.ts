import { spawnSync } from 'node:child_process';

/** The suite drives the real HAProxy; say how to get it instead of failing test by test. */
export default function setup(): void {
  const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (haproxy.error || haproxy.status !== 0) {
    throw new Error('HAProxy is not installed; the tests run the real one. Install it: apt-get install -y haproxy etcd-server');
  }
}
