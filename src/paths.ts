import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shipped templates directory: `templates/` beside `dist/` (or `src/` under test). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

export const DEFAULT_TEMPLATE = `${TEMPLATES_DIR}haproxy.cfg.ejs`;

/** Stack mode's template: one backend per app, routed by host and path through map files. */
export const STACK_TEMPLATE = `${TEMPLATES_DIR}stack.cfg.ejs`;

let version: string | undefined;

/** occs-lb's version, from the package.json beside `dist/` (or `src/` under test); read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
