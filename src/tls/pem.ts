// PEM in and out, without trusting the text: blocks are read down to their DER bytes, and what
// goes to HAProxy is written again from those bytes. HAProxy's runtime API ends a payload at the
// first empty line, so a user's text sent as is could carry commands after one.

/** One PEM block as read: its label (`CERTIFICATE`, `PRIVATE KEY`…), its bytes, and whether its headers say it is encrypted. */
export interface PemBlock {
  label: string;
  der: Buffer;
  encrypted: boolean;
}

export type PemRead = { ok: true; blocks: PemBlock[] } | { ok: false; reason: string };

const BEGIN = /^-----BEGIN ([^-]*)-----$/;
const END = /^-----END ([^-]*)-----$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** An RFC 1421 header such as `Proc-Type: 4,ENCRYPTED` (base64 never holds a colon). */
const HEADER = /^[A-Za-z][A-Za-z0-9-]*:/;

/** A label as a reason may show it: the usual capitals, else not at all (it is the user's text). */
export const shownLabel = (label: string): string => (/^[A-Z0-9 ]{1,40}$/.test(label) ? label : 'unknown');

/** 1 → "first": positions in a bundle as people count them. */
export function ordinal(position: number): string {
  const words = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth', 'tenth'];
  const teen = position % 100 >= 11 && position % 100 <= 13;
  return words[position - 1] ?? `${position}${teen ? 'th' : (['th', 'st', 'nd', 'rd'][position % 10] ?? 'th')}`;
}

const fail = (reason: string): { ok: false; reason: string } => ({ ok: false, reason });

interface OpenBlock {
  label: string;
  base64: string[];
  headers: string[];
}

function closeBlock(open: OpenBlock, position: number): PemBlock | string {
  const label = shownLabel(open.label);
  const base64 = open.base64.join('');
  const encrypted = open.headers.some((h) => /^Proc-Type:\s*4\s*,\s*ENCRYPTED\s*$/i.test(h));
  if (open.headers.length > 0 && !encrypted)
    return `the ${ordinal(position)} block (${label}) holds header lines; a certificate or key block holds base64 alone`;
  const der = Buffer.from(base64, 'base64');
  // Buffer.from skips what is not base64; only text that decodes back to itself is taken as read.
  if (base64 === '' || !BASE64.test(base64) || der.toString('base64') !== base64)
    return `the ${ordinal(position)} block (${label}) does not hold valid base64: it may have been cut or edited; export it again`;
  return { label: open.label, der, encrypted };
}

/**
 * The PEM blocks of a text, in order, with their base64 decoded. Text between blocks is ignored
 * (openssl writes "Bag Attributes" and subject lines there); CRLF and trailing spaces are fine.
 */
export function readPemBlocks(text: string): PemRead {
  const blocks: PemBlock[] = [];
  let open: OpenBlock | undefined;
  for (const raw of text.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    const position = blocks.length + 1;
    if (!open) {
      const begin = BEGIN.exec(line);
      if (begin) open = { label: begin[1]!, base64: [], headers: [] };
      continue;
    }
    const end = END.exec(line);
    if (end) {
      if (end[1] !== open.label)
        return fail(
          `the ${ordinal(position)} block begins as ${shownLabel(open.label)} but ends as ${shownLabel(end[1]!)}: each BEGIN line needs its own END line`,
        );
      const block = closeBlock(open, position);
      if (typeof block === 'string') return fail(block);
      blocks.push(block);
      open = undefined;
    } else if (BEGIN.test(line)) {
      return fail(`the ${ordinal(position)} block (${shownLabel(open.label)}) has no END line before the next BEGIN line`);
    } else if (HEADER.test(line)) {
      open.headers.push(line);
    } else if (line !== '') {
      open.base64.push(line);
    }
  }
  if (open) return fail(`the ${ordinal(blocks.length + 1)} block (${shownLabel(open.label)}) has no END line: the text may be cut short`);
  return { ok: true, blocks };
}

/** One PEM block written from its bytes: BEGIN line, base64 in lines of 64, END line, each ending in '\n'. */
export function encodePem(label: string, der: Buffer): string {
  const base64 = der.toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < base64.length; at += 64) lines.push(base64.slice(at, at + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
