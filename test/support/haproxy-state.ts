import type { RuntimeChannel } from '../../src/haproxy/runtime-channel.js';
import type { HaproxyState } from '../../src/plan/plan.js';

/**
 * What the watch's view would say of an HAProxy that runs `installed`: it runs, installs do not
 * fail, and it offers a runtime API when `runtime` (a channel no test sends on: deciding never does).
 */
export function haproxyState(installed: ReadonlyMap<string, string | undefined>, options: { runtime?: boolean; apart?: string } = {}): HaproxyState {
  const channel = { description: 'a runtime API no decision uses' } as unknown as RuntimeChannel;
  return {
    version: 0,
    installed,
    started: true,
    installFailing: false,
    epoch: 0,
    apart: options.apart,
    channel: (options.runtime ?? true) ? channel : undefined,
  };
}
