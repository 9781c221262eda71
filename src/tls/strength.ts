import type { KeyObject, X509Certificate } from 'node:crypto';
import { derElement } from './der.js';

// What HAProxy takes and clients can use, beyond a bundle being well formed. HAProxy 2.6 on
// OpenSSL 3 at security level 2 (Debian's default) refuses to load an RSA or DSA key shorter than
// 2048 bits, an EC key under 224 bits, a key OpenSSL cannot use for TLS (SM2), and a certificate
// signed with MD5 or SHA-1 by another; a config naming one fails `haproxy -c`, so every change
// after it would be refused. And it loads keys no client signs a handshake with (DSA, EC curves
// other than P-256, P-384 and P-521): every handshake for that name would fail.

/** A certificate of the bundle (by position, 0 the leaf) and why HAProxy or its clients cannot use it. */
export interface Weakness {
  index: number;
  why: string;
}

const MIN_RSA_BITS = 2048;
const MIN_EC_BITS = 224;
/** The curves TLS clients sign handshakes with (OpenSSL's default groups, browsers'). */
const SERVED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const SERVED_TYPES = 'RSA (2048 bits or more), ECDSA on P-256, P-384 or P-521, or Ed25519';

/** Signature algorithms OpenSSL refuses in a chain (too weak), by the DER of their OID. */
const WEAK_SIGNATURES: Record<string, string> = {
  '2a864886f70d010102': 'MD2', // 1.2.840.113549.1.1.2 md2WithRSAEncryption
  '2a864886f70d010103': 'MD4', // 1.2.840.113549.1.1.3
  '2a864886f70d010104': 'MD5', // 1.2.840.113549.1.1.4
  '2a864886f70d010105': 'SHA-1', // 1.2.840.113549.1.1.5 sha1WithRSAEncryption
  '2a8648ce3d0401': 'SHA-1', // 1.2.840.10045.4.1 ecdsa-with-SHA1
  '2a8648ce380403': 'SHA-1', // 1.2.840.10040.4.3 dsa-with-sha1
  '2b0e03021d': 'SHA-1', // 1.3.14.3.2.29 sha1WithRSASignature
  '2b0e030203': 'MD5', // 1.3.14.3.2.3 md5WithRSA
};

/** The signature algorithms OpenSSL knows the strength of (a chain certificate signed with another is refused), by the DER of their OID. */
const KNOWN_SIGNATURES = new Set([
  '2a864886f70d01010a', // 1.2.840.113549.1.1.10 RSASSA-PSS
  '2a864886f70d01010b', // 1.2.840.113549.1.1.11 sha256WithRSAEncryption (12, 13, 14: SHA-384, SHA-512, SHA-224)
  '2a864886f70d01010c',
  '2a864886f70d01010d',
  '2a864886f70d01010e',
  '2a8648ce3d040301', // 1.2.840.10045.4.3.1 ecdsa-with-SHA224 (2, 3, 4: SHA-256, SHA-384, SHA-512)
  '2a8648ce3d040302',
  '2a8648ce3d040303',
  '2a8648ce3d040304',
  '2b6570', // 1.3.101.112 Ed25519
  '2b6571', // 1.3.101.113 Ed448
  '608648016503040301', // 2.16.840.1.101.3.4.3.1 dsa-with-sha224 (2: SHA-256; 9 to 16: ECDSA and RSA with SHA-3)
  '608648016503040302',
  ...['09', '0a', '0b', '0c', '0d', '0e', '0f', '10'].map((last) => `6086480165030403${last}`),
]);

/** The bits of a named curve (`prime256v1` 256, `brainpoolP512r1` 512), or 0 when its name gives none. */
const curveBits = (curve: string | undefined): number => Number(/(\d{3})/.exec(curve ?? '')?.[1] ?? 0);

/** Why HAProxy refuses a key (leaf or chain), if it does. */
function keySizeReason(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  const { modulusLength, namedCurve } = key.asymmetricKeyDetails ?? {};
  if ((type === 'rsa' || type === 'rsa-pss' || type === 'dsa') && (modulusLength ?? 0) < MIN_RSA_BITS)
    return `its ${type === 'dsa' ? 'DSA' : 'RSA'} key has ${modulusLength ?? 'too few'} bits; HAProxy refuses fewer than ${MIN_RSA_BITS}`;
  if (type === 'ec' && curveBits(namedCurve) < MIN_EC_BITS)
    return `its EC key is on ${namedCurve ?? 'an unnamed curve'}; HAProxy refuses curves under ${MIN_EC_BITS} bits`;
  return undefined;
}

/** Why no client can use the leaf's key for a handshake, if none can. */
function leafKeyReason(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'ec' && !SERVED_CURVES.has(key.asymmetricKeyDetails?.namedCurve ?? ''))
    return `its EC key is on ${key.asymmetricKeyDetails?.namedCurve ?? 'an unnamed curve'}, which TLS clients do not accept`;
  if (type === 'rsa' || type === 'rsa-pss' || type === 'ec' || type === 'ed25519' || type === 'ed448') return undefined;
  return type === 'dsa' ? 'its key is DSA, which TLS clients no longer accept' : 'its key is of a type HAProxy cannot serve';
}

/** The DER of a certificate's signature algorithm OID, in hex (Certificate: tbsCertificate, then the AlgorithmIdentifier). */
function signatureOid(der: Buffer): string | undefined {
  const certificate = derElement(der, 0);
  const tbs = certificate && derElement(der, certificate.start);
  const algorithm = tbs && derElement(der, tbs.end);
  if (!algorithm || der[algorithm.start] !== 0x06) return undefined;
  const oid = derElement(der, algorithm.start);
  return oid && der.subarray(oid.start, oid.end).toString('hex');
}

/** Whether a certificate names itself its issuer and carries its own signature, as OpenSSL calls one self-signed. */
function selfSigned(cert: X509Certificate): boolean {
  try {
    return cert.subject === cert.issuer && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

/** The first certificate of the bundle (leaf first) HAProxy would refuse, or that no client could use, and why. */
export function weakness(certs: readonly X509Certificate[], key: KeyObject): Weakness | undefined {
  const leaf = leafKeyReason(key);
  if (leaf) return { index: 0, why: `${leaf}: issue it with ${SERVED_TYPES}` };
  for (const [index, cert] of certs.entries()) {
    let publicKey: KeyObject;
    try {
      publicKey = cert.publicKey;
    } catch {
      return { index, why: `its public key cannot be read: issue it with ${SERVED_TYPES}` };
    }
    const size = keySizeReason(publicKey);
    if (size) return { index, why: `${size}: issue it with ${SERVED_TYPES}` };
    // OpenSSL checks no signature of a self-signed certificate (a root).
    const signature = selfSigned(cert) ? undefined : (signatureOid(cert.raw) ?? '');
    const digest =
      signature === undefined ? undefined : (WEAK_SIGNATURES[signature] ?? (KNOWN_SIGNATURES.has(signature) ? undefined : 'an algorithm it does not know'));
    if (digest) return { index, why: `it is signed with ${digest}, which HAProxy refuses: have it issued again with SHA-256` };
  }
  return undefined;
}
