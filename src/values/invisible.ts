/**
 * Characters a screen does not show as themselves: controls (C0, C1, DEL), format characters
 * (bidirectional overrides and isolates, zero-width joiners, the BOM, soft hyphens, tags) and
 * every other default-ignorable code point (variation selectors, the Hangul fillers), line and
 * paragraph separators, spaces other than the plain one, surrogates, private-use and unassigned
 * code points, and the blank Braille pattern. Data holding them can fake or reorder what a log
 * line or a config file seems to say.
 */
const INVISIBLE_CLASS =
  '[\\p{Cc}\\p{Cf}\\p{Cs}\\p{Co}\\p{Cn}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000\\u2800]';

/** Matches one invisible character (flag g: all of them). */
export const invisibleCharacters = (flags = 'gu'): RegExp => new RegExp(INVISIBLE_CLASS, flags);
