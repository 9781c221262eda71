const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const AMOUNT = String.raw`\d+(?:\.\d+)?`;

/**
 * A duration's text, as a regular expression's source (the config file's JSON Schema states it
 * too): a bare number of seconds, or amounts with units, spaces around allowed.
 */
export const DURATION_PATTERN = String.raw`^\s*(?:${AMOUNT}|(?:${AMOUNT}(?:ms|s|m|h|d))+)\s*$`;
const durationText = new RegExp(DURATION_PATTERN);

/**
 * Parses a duration into milliseconds: `500ms`, `5s`, `1.5m`, Go's form that confd and
 * consul-template users write (`1m30s`, `1h5m`), days (`14d`), or a bare number of seconds (confd's and the
 * seed's habit). Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text * 1000 : undefined;
  if (!durationText.test(text)) return undefined;
  const trimmed = text.trim();
  if (/^[\d.]+$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  let ms = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(amount) * units[unit!]!;
  return Math.round(ms);
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(1))}s`;
}
