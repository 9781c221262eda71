/** A DER element: its tag at `at`, its content from `start` to `end`. */
export interface DerElement {
  at: number;
  start: number;
  end: number;
}

/** The length of a DER element at `at` and where its content starts, or undefined when the bytes end first. */
export function derElement(der: Buffer, at: number): DerElement | undefined {
  let length = der[at + 1];
  let start = at + 2;
  if (length === undefined) return undefined;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count < 1 || count > 4 || start + count > der.length) return undefined;
    length = der.readUIntBE(start, count);
    start += count;
  }
  return start + length <= der.length ? { at, start, end: start + length } : undefined;
}

/** The elements one after another in a constructed element's content; undefined when one runs past its end. */
function childrenOf(der: Buffer, parent: DerElement): DerElement[] | undefined {
  const children: DerElement[] = [];
  for (let at = parent.start; at < parent.end;) {
    const child = derElement(der, at);
    if (!child || child.end > parent.end) return undefined;
    children.push(child);
    at = child.end;
  }
  return children;
}

/** The DER of the subjectAltName extension's OID (2.5.29.17), in hex. */
export const SUBJECT_ALT_NAME_OID = '551d11';

/**
 * Whether a certificate carries an extension (its OID's DER in hex), read from the certificate's
 * own bytes: Certificate, tbsCertificate, its [3] extensions, each extension's OID. Undefined when
 * those bytes cannot be walked. Node's X509Certificate says of an extension it cannot format
 * that there is none (Node 20, 24.22.3) or throws (24.22.1): this tells the two apart.
 */
export function hasExtension(der: Buffer, oid: string): boolean | undefined {
  const certificate = derElement(der, 0);
  const tbs = certificate && derElement(der, certificate.start);
  const fields = tbs && childrenOf(der, tbs);
  if (!fields) return undefined;
  const tagged = fields.find((f) => der[f.at] === 0xa3);
  if (!tagged) return false;
  const list = derElement(der, tagged.start);
  const extensions = list && list.end <= tagged.end ? childrenOf(der, list) : undefined;
  if (!extensions) return undefined;
  return extensions.some((extension) => {
    const id = derElement(der, extension.start);
    return der[extension.start] === 0x06 && id !== undefined && der.subarray(id.start, id.end).toString('hex') === oid;
  });
}
