const units: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * A size's text, as a regular expression's source (the config file's JSON Schema states it too):
 * an amount that is not 0, then a unit or none, spaces around allowed.
 */
export const SIZE_PATTERN = String.raw`^\s*(?=[\d.]*[1-9])(\d+(?:\.\d+)?)\s*((?:[kKmMgG][iI]?)?[bB])?\s*$`;
const sizeText = new RegExp(SIZE_PATTERN);

/** Parses a size like `16MiB`, `512KB`, `2GiB` or a bare number of bytes. Undefined when it is not one. */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text > 0 ? text : undefined;
  const match = sizeText.exec(text);
  const unit = match ? units[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || unit === undefined) return undefined;
  const bytes = Math.round(Number(match[1]) * unit);
  return bytes > 0 ? bytes : undefined;
}

/** `16 MiB`, `512 KiB`, `300 bytes`: a size as a person reads it. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`;
  }
  return `${bytes} bytes`;
}
