import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink, chown } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { systemErrorCode } from '../errors.js';

export type WriteResult = 'written' | 'unchanged';

/**
 * Replaces `path` with `content` so that readers see either the old file or the complete new
 * one: write a temp file in the same directory, fsync, rename over, fsync the directory. The
 * existing file's mode (and owner, when we may) carry over. Identical content is left alone.
 */
export async function writeFileAtomic(path: string, content: string): Promise<WriteResult> {
  const existing = await stat(path).catch((error: unknown) => {
    if (systemErrorCode(error) === 'ENOENT') return undefined;
    throw error;
  });
  if (existing && existing.size === Buffer.byteLength(content)) {
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === content) return 'unchanged';
  }

  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', existing ? existing.mode & 0o7777 : 0o644);
  try {
    await handle.writeFile(content);
    if (existing) {
      await handle.chmod(existing.mode & 0o7777);
      if (process.getuid?.() === 0) await chown(temp, existing.uid, existing.gid);
    }
    await handle.sync();
    await handle.close();
    await rename(temp, path);
  } catch (error) {
    await handle.close().catch(() => {});
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(dir);
  return 'written';
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}
