/**
 * An app's HTTPS policy, as `<control>/tls/<app>` gives it: words separated by spaces or commas.
 * - `redirect` (301) or `redirect=308` (301, 302, 303, 307 or 308): plain HTTP requests are sent to HTTPS;
 * - `only`: no HTTP route (plain HTTP requests for the app get the 404 of no route);
 * - `hsts` (max-age one year) or `hsts=SECONDS`, with `subdomains` and `preload`: the
 *   Strict-Transport-Security header on its HTTPS responses.
 * No key (or an empty value): both protocols route, no header.
 */
export interface TlsPolicy {
  redirect?: RedirectCode;
  only: boolean;
  /** Strict-Transport-Security: max-age in seconds, includeSubDomains, preload. */
  hsts?: { maxAge: number; subdomains: boolean; preload: boolean };
}

export const REDIRECT_CODES = [301, 302, 303, 307, 308] as const;
export type RedirectCode = (typeof REDIRECT_CODES)[number];

const YEAR_SECONDS = 31_536_000;
const WORDS = 'redirect, redirect=308, only, hsts, hsts=SECONDS, subdomains, preload';

/** Parses a policy; the reason names the word that is wrong and lists the words there are. */
export function parseTlsPolicy(text: string): { ok: true; value: TlsPolicy } | { ok: false; reason: string } {
  const fail = (reason: string) => ({ ok: false as const, reason });
  let redirect: RedirectCode | undefined;
  let only = false;
  let maxAge: number | undefined;
  const extras = new Set<string>();
  for (const word of text
    .trim()
    .split(/[\s,]+/)
    .filter(Boolean)) {
    const [name, value, more] = word.toLowerCase().split('=');
    if (more !== undefined) return fail(`"${word.slice(0, 40)}" has two "="`);
    if (name === 'redirect') {
      const code = value === undefined ? 301 : Number(value);
      if (!REDIRECT_CODES.includes(code as RedirectCode)) return fail(`"${word.slice(0, 40)}": a redirect's code is one of ${REDIRECT_CODES.join(', ')}`);
      redirect = code as RedirectCode;
    } else if (name === 'only' && value === undefined) only = true;
    else if (name === 'hsts') {
      maxAge = value === undefined ? YEAR_SECONDS : /^\d{1,10}$/.test(value) ? Number(value) : NaN;
      if (Number.isNaN(maxAge)) return fail(`"${word.slice(0, 40)}": hsts= takes a max-age in seconds, such as hsts=31536000`);
    } else if ((name === 'subdomains' || name === 'preload') && value === undefined) extras.add(name);
    else return fail(`"${word.slice(0, 40)}" is not a TLS policy word: use ${WORDS}`);
  }
  if (redirect && only) return fail('"redirect" and "only" exclude each other: redirect sends HTTP to HTTPS, only gives HTTP no route');
  if (extras.size > 0 && maxAge === undefined) return fail(`"${[...extras][0]}" goes with hsts`);
  const hsts = maxAge === undefined ? undefined : { maxAge, subdomains: extras.has('subdomains'), preload: extras.has('preload') };
  return { ok: true, value: { redirect, only, hsts } };
}

/** The policy map's value for an app (none: both protocols route), read by the stack template. */
export function policyWord(policy: TlsPolicy): string | undefined {
  if (policy.only) return 'only';
  return policy.redirect ? `redirect-${policy.redirect}` : undefined;
}

/**
 * The HSTS map's value for an app: its max-age, then `.s` (includeSubDomains), `.p` (preload)
 * or `.sp`. The header's own `=` and `;` are written by the template's lines: a runtime API word
 * never holds a `;`, which would chain another command.
 */
export function hstsWord(policy: TlsPolicy): string | undefined {
  const h = policy.hsts;
  if (!h) return undefined;
  const flags = `${h.subdomains ? 's' : ''}${h.preload ? 'p' : ''}`;
  return flags ? `${h.maxAge}.${flags}` : String(h.maxAge);
}
