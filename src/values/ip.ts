// IP address checks without node:net: loading that module costs a short command ~10 ms of its
// start-up, and these are the only things we need from it. test/unit/ip.test.ts holds them to
// node:net's answers.

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
/** An IPv4 address, as a regular expression's source with no anchors (the config file's JSON Schema states it too). */
export const IPV4_PATTERN = `${OCTET}(?:\\.${OCTET}){3}`;
const IPV4 = new RegExp(`^${IPV4_PATTERN}$`);
/** IPv6's characters with a colon among them: what a pattern can say of IPv6 (isIPv6 checks the grammar). */
export const IPV6_CHARACTERS = '[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*';
const IPV6_TEXT = new RegExp(`^${IPV6_CHARACTERS}$`);

/** Dotted-decimal IPv4, no leading zeros (which some parsers read as octal). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** Any textual IPv6 form (RFC 4291, including `::` and an IPv4 tail), without a zone. */
export function isIPv6(text: string): boolean {
  if (!IPV6_TEXT.test(text)) return false;
  try {
    // The WHATWG URL host parser implements exactly RFC 4291's textual forms.
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIP(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}
