import type { TlsSettings } from '../config/types.js';
import type { KvPair } from '../kv/source.js';
import type { SkippedEntry } from '../values/servers.js';
import { certNameReason, checkBundle, CERT_NAME, type BundleCheck, type CertBundle } from './bundle.js';

/** A bundle HTTPS serves: its name, the key or file it came from, the file it goes to, and what it holds. */
export interface ServedCert {
  name: string;
  from: string;
  /** The bundle file beside the config; also its name in HAProxy's runtime API. */
  path: string;
  bundle: CertBundle;
}

/** What HTTPS serves: the bundles (by name), the one for clients no certificate matches, and the entries left out. */
export interface TlsModel {
  settings: TlsSettings;
  certs: ServedCert[];
  /** Served to clients whose server name no certificate matches (and to those that send none). */
  fallback?: ServedCert;
  /** Its file: a copy of the fallback's bundle, the crt-list's first line, so another one takes its place with no reload. */
  fallbackPath: string;
  skipped: SkippedEntry[];
  /** What the operator should hear of, besides skipped entries (a --default-cert that names no bundle). */
  notes: string[];
}

/** A bundle a source offers, before it is checked: a store key, or a file of --cert-dir (value `\0reason` when it could not be read). */
export interface OfferedCert {
  key: string;
  name: string;
  value: string;
}

/** Marks a --cert-dir entry that could not be read: the reason follows it (a bundle never starts with NUL). */
export const UNREADABLE = '\u0000';

/** A bundle's file beside the config: its runtime API name too. */
export const bundlePath = (tls: Pick<TlsSettings, 'certsDir'>, name: string): string => `${tls.certsDir}/${name}.pem`;

/** What the bundles of --cert-dir are, from a snapshot's pairs under it (keys `<dir>/<name>`). */
export function dirOffers(pairs: readonly KvPair[], certDir: string | undefined): OfferedCert[] {
  if (!certDir) return [];
  const start = `${certDir}/`;
  return pairs.filter((p) => p.key.startsWith(start)).map((p) => ({ key: p.key, name: p.key.slice(start.length), value: p.value }));
}

/**
 * Checks every bundle offered, the directory's first (they win a name both hold), and picks the
 * fallback. A bundle that fails its check is left out, named with the reason; when the file of
 * that name still holds one that passes (`lastGood`: what is installed), that one keeps serving,
 * also once it has expired.
 */
export function buildTls(
  offered: { store: readonly OfferedCert[]; dir: readonly OfferedCert[] },
  tls: TlsSettings,
  now: number,
  lastGood: (path: string) => string | undefined = () => undefined,
): TlsModel {
  const skipped: SkippedEntry[] = [];
  const byName = new Map<string, ServedCert>();
  const taken = new Map<string, string>();
  for (const offer of [...offered.dir, ...offered.store]) {
    const fromDir = offered.dir.includes(offer);
    const owner = taken.get(offer.name);
    if (owner !== undefined) {
      skipped.push({ key: offer.key, reason: `the certificate "${offer.name}" of ${owner} is served under that name instead` });
      continue;
    }
    const nameProblem = CERT_NAME.test(offer.name) ? undefined : certNameReason(offer.name);
    // What in --cert-dir gives no bundle of a name (the directory itself, a Secret's folder missing tls.key): its own reason.
    if (nameProblem) {
      skipped.push({ key: offer.key, reason: offer.value.startsWith(UNREADABLE) ? offer.value.slice(1) : nameProblem });
      continue;
    }
    taken.set(offer.name, fromDir ? `--cert-dir (${offer.key})` : offer.key.slice(1));
    const path = bundlePath(tls, offer.name);
    const check = offer.value.startsWith(UNREADABLE) ? { ok: false as const, reason: offer.value.slice(1) } : checked(offer.value, now);
    if (check.ok) {
      byName.set(offer.name, { name: offer.name, from: offer.key, path, bundle: check.bundle });
      continue;
    }
    // Even expired: taking it away would not help its clients, and a change of servers is no reason to stop HTTPS.
    const previous = lastGood(path);
    const kept = previous === undefined ? undefined : checked(previous, now, true);
    skipped.push({ key: offer.key, reason: kept?.ok ? `${check.reason}; the certificate served before keeps serving` : check.reason });
    if (kept?.ok) byName.set(offer.name, { name: offer.name, from: offer.key, path, bundle: kept.bundle });
  }
  const certs = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  const notes: string[] = [];
  if (certs.length === 0 && offered.dir.length + offered.store.length === 0) {
    const where = tls.certDir === undefined ? '--cert-dir DIR, or lb/certs/NAME in stack mode' : `${tls.certDir}, or lb/certs/NAME in stack mode`;
    notes.push(`no certificate is given: HTTPS (port ${tls.port}) is not served until one is (${where})`);
  } else if (certs.length === 0) notes.push(`no certificate passed its checks: HTTPS (port ${tls.port}) is not served until one does`);
  let fallback = certs[0];
  if (tls.defaultCert !== undefined) {
    const asked = byName.get(tls.defaultCert);
    if (asked) fallback = asked;
    else if (certs.length > 0)
      notes.push(`the default certificate "${tls.defaultCert}" is not served (no such bundle, or it was refused): "${fallback!.name}" is the default`);
  }
  return { settings: tls, certs, fallback, fallbackPath: `${tls.certsDir}/.default.pem`, skipped, notes };
}

/** Checked bundles by text: a store change re-renders everything, and a check parses keys and verifies signatures. */
const CHECKED = new Map<string, CertBundle>();
const CHECKED_MAX = 1000;

/** checkBundle, with a passed bundle's parse kept (its validity dates are checked against `now` each time). */
function checked(text: string, now: number, expired = false): BundleCheck {
  const known = CHECKED.get(text);
  if (known && now >= known.notBefore && (expired || now <= known.notAfter)) return { ok: true, bundle: known };
  const result = checkBundle(text, now, expired);
  if (result.ok) {
    if (CHECKED.size >= CHECKED_MAX) CHECKED.delete(CHECKED.keys().next().value!);
    CHECKED.set(text, result.bundle);
  }
  return result;
}

/**
 * The crt-list: the fallback's copy first (`!*`: its names are not matched there, only the
 * bundle's own line serves them), then every bundle; no line while none is served.
 */
export function crtListText(model: TlsModel): string {
  const head = '# Generated by occs-lb: the certificates HTTPS serves, matched by server name. Do not edit.\n';
  if (!model.fallback) return `${head}# None passed its checks: HTTPS is not served.\n`;
  const lines = model.certs.map((c) => `${c.path}\n`);
  return `${head}${model.fallbackPath} !*\n${lines.join('')}`;
}

/** The bundle files a crt-list names (what a crt-list text lists, comments and filters aside). */
export function crtListFiles(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/)[0]!);
}

/** Days until a certificate expires (negative once it has), rounded down. */
export const daysLeft = (bundle: Pick<CertBundle, 'notAfter'>, now: number): number => Math.floor((bundle.notAfter - now) / 86_400_000);

/** A certificate HTTPS serves, as /healthz, the metrics and validate show it: never its key. */
export interface CertInfo {
  name: string;
  names: readonly string[];
  notAfter: number;
  serial: string;
  /** The store key or --cert-dir file it came from. */
  from: string;
}

/** What may be shown of a served certificate (never its key): names, expiry, serial, where it came from. */
export const certInfo = (c: ServedCert): CertInfo => ({
  name: c.name,
  names: c.bundle.names,
  notAfter: c.bundle.notAfter,
  serial: c.bundle.serial,
  from: c.from,
});

/** A certificate that expires soon (or has), as the log and /healthz say it. */
export function certExpiryLine(cert: CertInfo, now: number): string {
  const days = daysLeft(cert, now);
  const when = new Date(cert.notAfter).toISOString();
  return days < 0 || cert.notAfter <= now
    ? `certificate "${cert.name}" expired at ${when}: clients refuse it; put a renewed bundle in its place`
    : `certificate "${cert.name}" expires in ${days} ${days === 1 ? 'day' : 'days'} (${when}): renew it`;
}
