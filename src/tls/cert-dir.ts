import { constants, type Dirent } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { systemErrorCode } from '../errors.js';
import { certNameReason } from './bundle.js';

/** A bundle's text as a directory holds it, not checked yet. */
export interface DirBundle {
  name: string;
  /** the file(s) it came from, for messages */
  from: string;
  text: string;
}

/** Something in the directory that gives no bundle, and why. */
export interface DirProblem {
  from: string;
  reason: string;
}

/** A bundle is a few KiB; a file larger than this is something else, and is not read. */
const MAX_FILE_BYTES = 1024 * 1024;

/** A bundle known by its file names, not read yet: one .pem, or a certificate file and then its key file. */
interface Found {
  name: string;
  files: string[];
}

const fromOf = (found: Found): string => found.files.join(' and ');

/** Whether an entry is a directory, following a symlink (a dangling one is not). */
async function isDirectory(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  return stat(join(dir, entry.name)).then(
    (info) => info.isDirectory(),
    () => false,
  );
}

/** The names in a directory, sorted, without those starting with '.' (Kubernetes keeps its `..data` versions there). */
async function listDir(dir: string): Promise<{ files: string[]; dirs: string[] }> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  const files: string[] = [];
  const dirs: string[] = [];
  for (const entry of entries) ((await isDirectory(dir, entry)) ? dirs : files).push(entry.name);
  return { files: files.sort(), dirs: dirs.sort() };
}

/** tls.crt + tls.key, as a Kubernetes TLS Secret is mounted: the bundle `name`, a problem when one is missing, or nothing. */
function secretPair(dir: string, files: readonly string[], name: string, problems: DirProblem[]): Found[] {
  const [crt, key] = [files.includes('tls.crt'), files.includes('tls.key')];
  if (crt && key) return [{ name, files: [join(dir, 'tls.crt'), join(dir, 'tls.key')] }];
  if (crt || key) {
    const [has, lacks] = crt ? ['tls.crt', 'tls.key'] : ['tls.key', 'tls.crt'];
    problems.push({ from: join(dir, has), reason: `there is no ${lacks} beside it: a TLS Secret holds both` });
  }
  return [];
}

/** NAME.pem, and NAME.crt with NAME.key, directly in `dir` (tls.* are the Secret's; a lone ca.crt is its issuing CA). */
function filesIn(dir: string, files: readonly string[], problems: DirProblem[]): Found[] {
  const found: Found[] = [];
  for (const file of files) {
    const [, name, ext] = /^(.*)\.(pem|crt|key)$/.exec(file) ?? [];
    if (name === undefined || name === 'tls') continue;
    const other = `${name}.${ext === 'crt' ? 'key' : 'crt'}`;
    if (ext === 'pem') found.push({ name, files: [join(dir, file)] });
    else if (!files.includes(other)) {
      if (file !== 'ca.crt')
        problems.push({
          from: join(dir, file),
          reason: `there is no ${other} beside it: give the certificate and its key as ${name}.crt and ${name}.key, or both in ${name}.pem`,
        });
    } else if (ext === 'crt') found.push({ name, files: [join(dir, file), join(dir, other)] });
  }
  return found;
}

/** A subdirectory holding one mounted Secret: the bundle named after it. */
async function subdirPair(dir: string, name: string, problems: DirProblem[]): Promise<Found[]> {
  try {
    return secretPair(dir, (await listDir(dir)).files, name, problems);
  } catch (error) {
    problems.push({ from: dir, reason: `cannot be read (${systemErrorCode(error) ?? String(error)})` });
    return [];
  }
}

/** A file's text, or why it was not read. */
async function readBundleFile(path: string): Promise<{ text: string } | DirProblem> {
  let handle;
  try {
    // Not blocking: a FIFO named x.pem must not hang the reader; it is refused below.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return { from: path, reason: 'is not a regular file' };
    if (info.size > MAX_FILE_BYTES) return { from: path, reason: 'is larger than 1 MiB: a certificate bundle is a few KiB, so this is not one' };
    return { text: await handle.readFile('utf8') };
  } catch (error) {
    return { from: path, reason: `cannot be read (${systemErrorCode(error) ?? String(error)})` };
  } finally {
    await handle?.close();
  }
}

/** Drops what has a bad name or a name found before, each with a problem; the first of a name is kept. */
function keepNamed(found: Found[], problems: DirProblem[]): Found[] {
  const kept = new Map<string, Found>();
  for (const bundle of found) {
    const reason = certNameReason(bundle.name);
    const first = kept.get(bundle.name);
    if (reason) problems.push({ from: fromOf(bundle), reason });
    else if (first)
      problems.push({ from: fromOf(bundle), reason: `the certificate name "${bundle.name}" is already given by ${fromOf(first)}, which is kept` });
    else kept.set(bundle.name, bundle);
  }
  return [...kept.values()];
}

/**
 * The bundles of a directory: NAME.pem; NAME.crt with NAME.key; tls.crt with tls.key (a mounted
 * Kubernetes Secret, named after the directory); NAME/tls.crt with NAME/tls.key. What cannot give
 * a bundle is a problem; other files are ignored. Throws when the directory cannot be listed.
 */
export async function readCertDir(dir: string): Promise<{ bundles: DirBundle[]; problems: DirProblem[] }> {
  let listed: { files: string[]; dirs: string[] };
  try {
    listed = await listDir(dir);
  } catch (error) {
    const code = systemErrorCode(error);
    const what = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be read (${code ?? String(error)})`;
    throw new Error(`certificate directory ${dir} ${what}`, { cause: error });
  }
  const problems: DirProblem[] = [];
  const found = [...filesIn(dir, listed.files, problems), ...secretPair(dir, listed.files, basename(resolve(dir)), problems)];
  for (const sub of listed.dirs) found.push(...(await subdirPair(join(dir, sub), sub, problems)));
  const bundles: DirBundle[] = [];
  for (const bundle of keepNamed(found, problems)) {
    const read = await Promise.all(bundle.files.map(readBundleFile));
    const failed = read.filter((r): r is DirProblem => 'reason' in r);
    if (failed.length > 0) problems.push(...failed);
    else bundles.push({ name: bundle.name, from: fromOf(bundle), text: read.map((r) => ('text' in r ? r.text : '')).join('\n') });
  }
  bundles.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { bundles, problems };
}
