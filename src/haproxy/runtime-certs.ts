import { crtListFiles } from '../tls/certs.js';
import { runtimeCommand, runtimeRefused, said, type RuntimeChannel } from './runtime-channel.js';

/** A bundle as HAProxy is to hold it: its file (its runtime name), its text, and what `show ssl cert` must show. */
export interface CertFile {
  path: string;
  pem: string;
  serial: string;
}

/** The certificates of one crt-list that changed: new bundles, bundles with new content, and bundles gone. */
export interface CertChange {
  crtList: string;
  added: CertFile[];
  rotated: CertFile[];
  removed: string[];
}

export const NO_CERT_CHANGE = (crtList = ''): CertChange => ({ crtList, added: [], rotated: [], removed: [] });

/** Whether a change touches any certificate. */
export const certsChanged = (change: CertChange): boolean => change.added.length + change.rotated.length + change.removed.length > 0;

/**
 * What the runtime API must do for the crt-list to name `wanted` (path → bundle), given the
 * crt-list and bundles installed: bundles it did not name are added, those whose text differs
 * are rotated, those it no longer names are removed (its first line, the fallback's copy, is
 * always there and only ever rotated).
 */
export function certChange(crtList: string, wanted: readonly CertFile[], installed: ReadonlyMap<string, string | undefined>): CertChange {
  const before = new Set(crtListFiles(installed.get(crtList) ?? ''));
  const change = NO_CERT_CHANGE(crtList);
  for (const cert of wanted) {
    if (!before.has(cert.path)) change.added.push(cert);
    else if (installed.get(cert.path) !== cert.pem) change.rotated.push(cert);
  }
  const kept = new Set(wanted.map((c) => c.path));
  change.removed = [...before].filter((path) => !kept.has(path));
  return change;
}

/**
 * Applies a certificate change: a new bundle is made (`new ssl cert`), filled (`set ssl cert`),
 * committed and added to the crt-list; a rotated one is filled and committed (HAProxy swaps it
 * for new handshakes; those under way finish with the old); a removed one leaves the crt-list,
 * then HAProxy. A commit HAProxy refuses is aborted, so no transaction is left open. Then each
 * new or rotated bundle must show its serial (`show ssl cert`) and each removed one be gone from
 * the crt-list. Throws RUNTIME_REFUSED.
 */
export async function applyCerts(channel: RuntimeChannel, change: CertChange): Promise<void> {
  for (const cert of change.added) {
    await expect(channel, runtimeCommand('new', 'ssl', 'cert', cert.path), /^New empty certificate store/, `make ${cert.path}`);
    await fill(channel, cert);
    await expect(channel, runtimeCommand('add', 'ssl', 'crt-list', change.crtList, cert.path), /^Success!/m, `add ${cert.path} to ${change.crtList}`);
  }
  for (const cert of change.rotated) await fill(channel, cert);
  for (const path of change.removed) {
    await expect(channel, runtimeCommand('del', 'ssl', 'crt-list', change.crtList, path), /deleted in crtlist/, `take ${path} out of ${change.crtList}`);
    await expect(channel, runtimeCommand('del', 'ssl', 'cert', path), /deleted!/, `delete ${path}`);
  }
  for (const cert of [...change.added, ...change.rotated]) await verifyCert(channel, cert);
  if (change.removed.length > 0) {
    const listed = new Set(crtListFiles(await channel.send(runtimeCommand('show', 'ssl', 'crt-list', change.crtList))));
    const left = change.removed.find((path) => listed.has(path));
    if (left) throw runtimeRefused(`${left} is still in ${change.crtList} after it was taken out`);
  }
}

/** `set ssl cert` with the bundle, then `commit ssl cert`; a refused commit is aborted. */
async function fill(channel: RuntimeChannel, cert: CertFile): Promise<void> {
  await expect(channel, runtimeCommand('set', 'ssl', 'cert', cert.path), /^Transaction (created|updated)/, `fill ${cert.path}`, cert.pem);
  const answer = said(await channel.send(runtimeCommand('commit', 'ssl', 'cert', cert.path)));
  if (answer.some((l) => /^Success!/.test(l))) return;
  await channel.send(runtimeCommand('abort', 'ssl', 'cert', cert.path)).catch(() => '');
  throw runtimeRefused(`HAProxy refused to commit ${cert.path}: ${answer.join(' ').slice(0, 300) || 'no answer'}`);
}

async function expect(channel: RuntimeChannel, command: string, ok: RegExp, what: string, payload?: string): Promise<void> {
  const answer = said(payload === undefined ? await channel.send(command) : await channel.sendPayload(command, payload));
  if (!answer.some((l) => ok.test(l))) throw runtimeRefused(`HAProxy refused to ${what}: ${answer.join(' ').slice(0, 300) || 'no answer'}`);
}

/** `show ssl cert PATH` must show the bundle's serial, committed (not a transaction's). */
async function verifyCert(channel: RuntimeChannel, cert: CertFile): Promise<void> {
  const answer = await channel.send(runtimeCommand('show', 'ssl', 'cert', cert.path));
  const serial = /^Serial: *([0-9A-Fa-f]+)/m
    .exec(answer)?.[1]
    ?.toUpperCase()
    .replace(/^0+(?=.)/, '');
  if (serial !== cert.serial) {
    throw runtimeRefused(`HAProxy serves ${cert.path} with serial ${serial ?? '(none shown)'}, not ${cert.serial}, after the change`);
  }
}
