import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isHostname } from '../values/server.js';
import { invisibleCharacters } from '../values/invisible.js';
import { encodePem, ordinal, readPemBlocks, shownLabel } from './pem.js';
import { hasExtension, SUBJECT_ALT_NAME_OID } from './der.js';
import { weakness } from './strength.js';

/** A bundle that passed every check: what HAProxy gets, and what a person or a comparison needs to know of it. */
export interface CertBundle {
  /** The bundle as HAProxy gets it: the leaf certificate, then its chain in order, then the private key; every block re-encoded from its DER by us (64-char base64 lines, BEGIN/END lines, '\n' endings, no blank line, nothing else). */
  pem: string;
  /** DNS names the certificate serves, lower-cased, in its order: SAN DNS entries (wildcards kept like *.a.test), else the subject CN when there is no SAN DNS entry. */
  names: string[];
  /** ms since epoch */
  notBefore: number;
  /** ms since epoch */
  notAfter: number;
  /** Serial as hex, upper case, leading zeros stripped (compare with HAProxy's `show ssl cert` "Serial:" line through normalizeSerial). */
  serial: string;
  /** e.g. "CN=a.test" (one line, no newlines) */
  subject: string;
  issuer: string;
  /** SHA-256 fingerprint of the leaf, as node gives it (AA:BB:...). */
  fingerprint: string;
}

export type BundleCheck = { ok: true; bundle: CertBundle } | { ok: false; reason: string };

/** The names a bundle may have: it becomes a file name, so letters, digits, '.', '_' and '-', not starting with '.' or '-'. */
export const CERT_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$/;

/** Why a name is not a CERT_NAME, or undefined when it is one. */
export function certNameReason(name: string): string | undefined {
  if (CERT_NAME.test(name)) return undefined;
  if (name === '') return 'a certificate name cannot be empty';
  const shown = shownText(name);
  if (name.length > 100) return `certificate name ${shown} is longer than 100 characters`;
  if (/^[.-]/.test(name)) return `certificate name ${shown} starts with "${name[0]}": it becomes a file name, so it starts with a letter, a digit or "_"`;
  return `certificate name ${shown} holds characters other than letters, digits, ".", "_" and "-"`;
}

/** HAProxy prints a serial as whole bytes ("0A1B"); both sides go through this before they are compared. */
export const normalizeSerial = (hex: string): string => hex.toUpperCase().replace(/^0+(?=.)/, '');

const KEY_TYPES: Record<string, 'pkcs8' | 'pkcs1' | 'sec1'> = { 'PRIVATE KEY': 'pkcs8', 'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1' };
const IGNORED = new Set(['DH PARAMETERS', 'EC PARAMETERS']);
const ENCRYPTED = 'the private key is encrypted; HAProxy needs it unencrypted: decrypt it (openssl pkey -in KEY -out KEY.plain) and store that';
const INVISIBLE = invisibleCharacters('gu');

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

/** Text from a certificate as a reason shows it: quoted, short, nothing a screen would hide. */
const shownText = (text: string): string => JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text).replace(INVISIBLE, '?');

const commonName = (cert: X509Certificate): string | undefined =>
  cert.subject
    .split('\n')
    .filter((rdn) => rdn.startsWith('CN='))
    .pop()
    ?.slice(3);

/** "CN=a.test (the first in the bundle)": how a reason names a certificate. */
function shownCert(cert: X509Certificate, index: number): string {
  const cn = commonName(cert);
  return `${cn === undefined ? 'with no CN' : `CN=${shownText(cn).slice(1, -1)}`} (the ${ordinal(index + 1)} in the bundle)`;
}

const isoDate = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');

type Sorted = { ok: true; certs: X509Certificate[]; key: KeyObject } | { ok: false; reason: string };

/** The certificates and the one key of a text, parsed; any other block, or a count that is wrong, refused. */
function sortBlocks(text: string): Sorted {
  const read = readPemBlocks(text);
  if (!read.ok) return read;
  const certs: X509Certificate[] = [];
  const keys: { der: Buffer; type: 'pkcs8' | 'pkcs1' | 'sec1' }[] = [];
  for (const block of read.blocks) {
    const keyType = KEY_TYPES[block.label];
    if (block.label === 'ENCRYPTED PRIVATE KEY' || (keyType && block.encrypted)) return fail(ENCRYPTED);
    if (keyType) keys.push({ der: block.der, type: keyType });
    else if (block.label === 'CERTIFICATE') {
      try {
        certs.push(new X509Certificate(block.der));
      } catch {
        return fail(`the ${ordinal(certs.length + 1)} CERTIFICATE block is not a certificate: export it again from where it was issued`);
      }
    } else if (!IGNORED.has(block.label))
      return fail(`the bundle holds a block of type ${shownLabel(block.label)}: it may hold only CERTIFICATE blocks and one PRIVATE KEY`);
  }
  if (certs.length === 0)
    return fail('the bundle holds no certificate: put the server certificate (-----BEGIN CERTIFICATE-----) first, then its chain, then its private key');
  if (keys.length === 0) return fail('the bundle holds no private key: add the unencrypted private key of the first certificate after the certificates');
  if (keys.length > 1) return fail(`the bundle holds ${keys.length} private keys: keep only the one that belongs to the first certificate`);
  try {
    return { ok: true, certs, key: createPrivateKey({ key: keys[0]!.der, format: 'der', type: keys[0]!.type }) };
  } catch {
    return fail('the private key block does not hold a key that can be read: export the key again, unencrypted');
  }
}

/** Why the chain is not leaf first, then each certificate's issuer, or undefined when it is. */
function chainReason(certs: X509Certificate[]): string | undefined {
  for (let i = 0; i + 1 < certs.length; i++) {
    const [child, parent] = [certs[i]!, certs[i + 1]!];
    let issued: boolean;
    try {
      issued = child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      issued = false;
    }
    if (!issued)
      return (
        `the certificate ${shownCert(parent, i + 1)} did not issue the certificate ${shownCert(child, i)}: ` +
        'put the server certificate first, then the one that issued it, then the one that issued that, and so on'
      );
  }
  return undefined;
}

/** Why a certificate of the bundle is not valid at `now` (or, with `expired`, not yet valid), or undefined when all are. */
function datesReason(certs: X509Certificate[], now: number, expired: boolean): string | undefined {
  for (const [i, cert] of certs.entries()) {
    const [notBefore, notAfter] = [Date.parse(cert.validFrom), Date.parse(cert.validTo)];
    if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) return `the dates of the certificate ${shownCert(cert, i)} cannot be read`;
    if (now > notAfter && !expired) return `the certificate ${shownCert(cert, i)} expired on ${isoDate(notAfter)}: renew it`;
    if (now < notBefore)
      return `the certificate ${shownCert(cert, i)} is not valid before ${isoDate(notBefore)}: wait until then, or check this machine's clock`;
  }
  return undefined;
}

/** A DNS name a certificate may serve: a host name, or `*.` and a host name (one label of wildcard). */
const isDnsName = (name: string): boolean => name.length <= 253 && isHostname(name.startsWith('*.') ? name.slice(2) : name);

/** The entries of node's subjectAltName text (`DNS:a.test, IP Address:…`; values with special characters JSON-quoted), or undefined if it cannot be read. */
function altNames(text: string | undefined): { type: string; value: string }[] | undefined {
  const entries: { type: string; value: string }[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,"]*)(?:, |$)/y;
  while (text && entry.lastIndex < text.length) {
    const match = entry.exec(text);
    if (!match) return undefined;
    try {
      entries.push({ type: match[1]!, value: match[2]!.startsWith('"') ? (JSON.parse(match[2]!) as string) : match[2]! });
    } catch {
      return undefined;
    }
  }
  return entries;
}

/** The DNS names the leaf serves: its SAN DNS entries, else its CN; refused when there is none or one is not a DNS name. */
function hostNames(leaf: X509Certificate): { ok: true; names: string[] } | { ok: false; reason: string } {
  let entries: ReturnType<typeof altNames>;
  try {
    entries = altNames(leaf.subjectAltName);
  } catch {
    entries = undefined; // node cannot format the extension: it is malformed
  }
  // An extension node cannot format reads as none on some lines: the certificate's bytes say whether it is there.
  if (!entries || (entries.length === 0 && hasExtension(leaf.raw, SUBJECT_ALT_NAME_OID) === true))
    return fail(`the subjectAltName of the certificate ${shownCert(leaf, 0)} cannot be read`);
  const dns = entries.filter((e) => e.type === 'DNS').map((e) => e.value.toLowerCase());
  const bad = dns.find((name) => !isDnsName(name));
  if (bad !== undefined)
    return fail(`the certificate ${shownCert(leaf, 0)} names ${shownText(bad)}, which is not a DNS name: a name is a host name, or *. and a host name`);
  const cn = commonName(leaf)?.toLowerCase();
  const names = dns.length > 0 ? dns : cn !== undefined && isDnsName(cn) ? [cn] : [];
  if (names.length > 0) return { ok: true, names: [...new Set(names)] };
  const only = entries.some((e) => e.type === 'IP Address') ? ' (only IP addresses)' : '';
  return fail(
    `the certificate ${shownCert(leaf, 0)} names no host: its subjectAltName has no DNS name${only} and its CN is not a host name; ` +
      'HAProxy chooses a certificate by host name, so issue it with a DNS name such as DNS:www.example.com',
  );
}

/**
 * Checks a PEM bundle as a store key or a file holds it. `now`: ms since epoch. `expired`: a
 * bundle that has expired passes (one HAProxy serves already keeps serving until replaced).
 * Never throws: what node cannot read of a certificate is a refusal like any other.
 */
export function checkBundle(text: string, now: number, expired = false): BundleCheck {
  try {
    return checkBlocks(text, now, expired);
  } catch {
    return fail('a certificate of the bundle cannot be read in full: export the bundle again from where it was issued');
  }
}

function checkBlocks(text: string, now: number, expired: boolean): BundleCheck {
  const sorted = sortBlocks(text);
  if (!sorted.ok) return sorted;
  const { certs, key } = sorted;
  const leaf = certs[0]!;
  let matches: boolean;
  try {
    matches = leaf.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) return fail(`the private key does not belong to the certificate ${shownCert(leaf, 0)}: put the key of that certificate in the bundle`);
  const weak = () => {
    const found = weakness(certs, key);
    return found && `the certificate ${shownCert(certs[found.index]!, found.index)} cannot be served: ${found.why}`;
  };
  const reason = chainReason(certs) ?? datesReason(certs, now, expired) ?? weak();
  if (reason) return fail(reason);
  const named = hostNames(leaf);
  if (!named.ok) return named;
  const pem = certs.map((cert) => encodePem('CERTIFICATE', cert.raw)).join('') + encodePem('PRIVATE KEY', key.export({ type: 'pkcs8', format: 'der' }));
  return {
    ok: true,
    bundle: {
      pem,
      names: named.names,
      notBefore: Date.parse(leaf.validFrom),
      notAfter: Date.parse(leaf.validTo),
      serial: normalizeSerial(leaf.serialNumber),
      subject: leaf.subject.split('\n').join(', '),
      issuer: leaf.issuer.split('\n').join(', '),
      fingerprint: leaf.fingerprint256,
    },
  };
}
