import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitRows, manPage, metricRows, referenceMarkdown, settingRows } from '../../src/docs/reference.js';
import { troubleshootingMarkdown } from '../../src/docs/troubleshooting.js';
import { ERROR_CODES } from '../../src/errors.js';
import { ROOT } from '../support/cli.js';

describe('the generated reference (docs/reference.md and occs-lb(1))', () => {
  it('docs/reference.md is what the tables make now (regenerate with: npx tsx src/docs/reference.ts > docs/reference.md)', () => {
    expect(readFileSync(join(ROOT, 'docs/reference.md'), 'utf8')).toBe(referenceMarkdown());
  });

  it('docs/troubleshooting.md is what the error table makes now, one section per code (regenerate with: npx tsx src/docs/reference.ts troubleshooting > docs/troubleshooting.md)', () => {
    const page = readFileSync(join(ROOT, 'docs/troubleshooting.md'), 'utf8');
    expect(page).toBe(troubleshootingMarkdown());
    for (const code of Object.keys(ERROR_CODES)) expect(page).toContain(`\n### ${code}\n\n- **Means:** `);
  });

  it('names every option, variable, config-file key, error code and metric', () => {
    const page = referenceMarkdown();
    for (const row of settingRows()) {
      for (const word of [row.flag, ...row.variables, row.key].filter((w): w is string => w !== undefined)) expect(page).toContain(`\`${word}\``);
    }
    for (const code of Object.keys(ERROR_CODES)) expect(page).toContain(`\`${code}\``);
    expect(exitRows().map((r) => r.exit)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const metrics = metricRows().map((m) => m.name);
    expect(metrics).toEqual(expect.arrayContaining(['occs_lb_reloads_total', 'occs_lb_cert_not_after_timestamp_seconds', 'process_resident_memory_bytes']));
    for (const name of metrics) expect(page).toContain(`\`${name}\``);
  });

  it('the man page, built into dist/ and shipped (package.json "man"), holds every option and exit status in roff', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { man: string; files: string[]; version: string };
    expect(pkg.man).toBe('dist/occs-lb.1');
    expect(pkg.files).toContain('dist');
    const built = readFileSync(join(ROOT, pkg.man), 'utf8');
    expect(built).toBe(manPage(pkg.version));
    expect(built).toMatch(/^\.TH OCCS-LB 1 /);
    for (const row of settingRows()) if (row.flag) expect(built).toContain(`.B ${row.flag.replace(/\\/g, '\\e')}\n`);
    expect(built).toMatch(/\.SH EXIT STATUS\n\.TP\n\.B 0\n/);
    // No line of text may start with a roff control character it did not mean.
    for (const line of built.split('\n')) if (/^['.]/.test(line)) expect(line).toMatch(/^\.(TH|SH|TP|B|BR|RB|RI|I|PP) ?/);
  });
});
