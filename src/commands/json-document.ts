import { packageVersion } from '../paths.js';

/**
 * The one shape `--format json` prints, whatever happened: occs-lb's version, `ok`, the errors
 * and warnings, and the steps and backends (empty when it stopped early), then what the command
 * adds. Printed pretty, one document per run.
 */
export interface JsonDocument {
  version: string;
  ok: boolean;
  errors: unknown[];
  warnings: unknown[];
  steps: unknown[];
  backends: Record<string, number>;
}

export function jsonDocument(fields: Partial<JsonDocument> & Record<string, unknown>): string {
  const document = { version: packageVersion(), ok: false, errors: [], warnings: [], steps: [], backends: {}, ...fields };
  return `${JSON.stringify(document, null, 2)}\n`;
}
