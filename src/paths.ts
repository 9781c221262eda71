import { fileURLToPath } from 'node:url';

/** The shipped templates directory: `templates/` beside `dist/` (or `src/` under test). */
export const TEMPLATES_DIR = fileURLToPath(new URL('../templates/', import.meta.url));

export const DEFAULT_TEMPLATE = `${TEMPLATES_DIR}haproxy.cfg.ejs`;
