// IP address checks without node:net: loading that module costs a short command ~10 ms of its
// start-up, and these are the only things we need from it. test/unit/ip.test.ts holds them to
// node:net's answers.

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);

/** Dotted-decimal IPv4, no leading zeros (which some parsers read as octal). */
export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** Any textual IPv6 form (RFC 4291, including `::` and an IPv4 tail), without a zone. */
export function isIPv6(text: string): boolean {
  if (!text.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(text)) return false;
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
