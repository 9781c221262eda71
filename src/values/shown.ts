import { MAX_NAME_LENGTH } from './server.js';

/** Text up to this long is shown whole: a key that holds an app and a server name at the cap, and their prefixes. */
const WHOLE = 2 * MAX_NAME_LENGTH + 128;
/** How much of longer text is shown: enough to tell which key it is. */
const START = 60;

/**
 * Text as a message shows it: whole, or when longer than WHOLE its start and its length, so a
 * key of 70,000 characters neither floods a log line (log collectors split or drop long lines)
 * nor hides which key it was.
 */
export function shown(text: string): string {
  if (text.length <= WHOLE) return text;
  // Never half of a surrogate pair: the start stays valid text.
  const end = /[\ud800-\udbff]/.test(text[START - 1]!) ? START - 1 : START;
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/** Whether text holds a PEM private key: it is never quoted, whatever key it was found under. */
export const holdsPrivateKey = (text: string): boolean => /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text);

/** Why an entry that holds a private key where no key goes is left out whole, quoting none of it. */
export const PRIVATE_KEY_ELSEWHERE = 'holds a private key, which is never shown nor used here: a certificate bundle goes under certs/<name> or in --cert-dir';
