// Real certificates for tests, made by the real openssl (3.0 here). `openssl x509 -req` in 3.0 can
// only count days from now, so every certificate is signed by `openssl ca`, which takes explicit
// -startdate/-enddate: that is how an expired or a not-yet-valid one is made.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A certificate and its key as openssl writes them (PEM, the key unencrypted PKCS#8). */
export interface TestCert {
  cert: string;
  key: string;
  /** hex, upper case, no leading zeros */
  serial: string;
}

export interface CertOptions {
  /** subjectAltName entries as openssl takes them: `DNS:a.test`, `DNS:*.a.test`, `IP:127.0.0.1`. None by default. */
  san?: string[];
  /** Valid from an hour ago for this many days (30 by default), unless notBefore/notAfter say otherwise. */
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** RSA 2048 instead of EC P-256 (slower to make). */
  rsa?: boolean;
  /** The serial in hex (random by default). */
  serial?: string;
  /** `openssl genpkey` arguments for the key, instead of EC P-256 (or RSA 2048 with `rsa`). */
  keyArgs?: string[];
  /** The digest the issuer signs with (sha256 by default). */
  digest?: string;
}

/** Runs openssl with `input` on stdin and returns its stdout; its stderr goes into the thrown error. */
export function runOpenssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { input, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** `openssl ca` dates: YYYYMMDDHHMMSSZ. */
const caDate = (date: Date): string => `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

const CA_CONFIG = `[ca]
default_ca = test_ca
[test_ca]
database = db/index.txt
new_certs_dir = db
serial = db/serial
default_md = DIGEST
policy = any_cn
unique_subject = no
[any_cn]
commonName = supplied
`;

function extensions(isCa: boolean, san: readonly string[]): string {
  const lines = isCa
    ? ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign']
    : ['basicConstraints = CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = serverAuth'];
  lines.push('subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid');
  if (san.length > 0) lines.push(`subjectAltName = ${san.join(',')}`);
  return `${lines.join('\n')}\n`;
}

/** One certificate for `cn`, signed by `issuer` (self-signed without one), in a fresh directory under `dir`. */
function issue(dir: string, cn: string, isCa: boolean, issuer: TestCert | undefined, options: CertOptions): TestCert {
  const work = mkdtempSync(join(dir, 'cert-'));
  const at = (file: string) => join(work, file);
  const keyArgs =
    options.keyArgs ?? (options.rsa ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  runOpenssl(['genpkey', ...keyArgs, '-out', at('key.pem')]);
  runOpenssl(['req', '-new', '-key', at('key.pem'), '-subj', `/CN=${cn}`, '-out', at('csr.pem')]);
  mkdirSync(at('db'));
  writeFileSync(at('db/index.txt'), '');
  writeFileSync(at('db/serial'), `${options.serial ?? randomBytes(8).toString('hex')}\n`);
  writeFileSync(at('ca.cnf'), CA_CONFIG.replace('DIGEST', options.digest ?? 'sha256'));
  writeFileSync(at('ext.cnf'), extensions(isCa, options.san ?? []));
  const notBefore = options.notBefore ?? new Date(Date.now() - HOUR);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + HOUR + (options.days ?? 30) * DAY);
  const signer = issuer ? ['-cert', at('issuer.pem'), '-keyfile', at('issuer.key')] : ['-selfsign', '-keyfile', at('key.pem')];
  if (issuer) {
    writeFileSync(at('issuer.pem'), issuer.cert);
    writeFileSync(at('issuer.key'), issuer.key);
  }
  // openssl ca finds db/ relative to its working directory.
  execFileSync(
    'openssl',
    [
      'ca',
      '-batch',
      '-config',
      'ca.cnf',
      ...signer,
      '-in',
      'csr.pem',
      '-out',
      'cert.pem',
      '-notext',
      '-extfile',
      'ext.cnf',
      '-startdate',
      caDate(notBefore),
      '-enddate',
      caDate(notAfter),
    ],
    { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const cert = readFileSync(at('cert.pem'), 'utf8');
  const serial = runOpenssl(['x509', '-noout', '-serial'], cert)
    .trim()
    .replace(/^serial=/, '')
    .replace(/^0+(?=.)/, '');
  return { cert, key: readFileSync(at('key.pem'), 'utf8'), serial };
}

/** A self-signed root CA. */
export const makeCa = (dir: string, cn: string, options: CertOptions = {}): TestCert => issue(dir, cn, true, undefined, options);

/** An intermediate CA signed by `issuer`. */
export const makeIntermediate = (dir: string, issuer: TestCert, cn: string, options: CertOptions = {}): TestCert => issue(dir, cn, true, issuer, options);

/** A server certificate signed by `issuer`, for the names in options.san. */
export const makeLeaf = (dir: string, issuer: TestCert, cn: string, options: CertOptions = {}): TestCert => issue(dir, cn, false, issuer, options);

/** The PEM text of a bundle: the leaf, its chain in the order given, then a key (the leaf's by default). */
export function bundleOf(leaf: TestCert, chain: readonly TestCert[] = [], key: string = leaf.key): string {
  const ended = (pem: string) => (pem.endsWith('\n') ? pem : `${pem}\n`);
  return [leaf.cert, ...chain.map((c) => c.cert), key].map(ended).join('');
}
