import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import { fileConfigSchema } from '../../src/config/schema.js';
import { processIo } from '../../src/io.js';
import { ROOT } from '../support/cli.js';

/** The schema as shipped: dist/occs-lb.schema.json, written by the build. */
const shipped = JSON.parse(readFileSync(join(ROOT, 'dist/occs-lb.schema.json'), 'utf8')) as { properties: Record<string, unknown> };
const validate = new Ajv({ allErrors: true, strict: false }).compile(shipped);

/** The config file example of the README. */
const readmeExample = JSON.parse(/## Config file[\s\S]*?```json\n([\s\S]*?)```/.exec(readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8'))![1]!) as Record<
  string,
  unknown
>;

describe("the config file's JSON Schema", () => {
  it('has exactly the keys the config file takes', () => {
    expect(Object.keys(shipped.properties).sort()).toEqual(Object.keys(fileConfigSchema.shape).sort());
  });

  it("accepts the README's example, which occs-lb loads too", async () => {
    expect(validate(readmeExample), JSON.stringify(validate.errors)).toBe(true);
    const dir = (await import('../support/temp.js')).makeTempDir();
    const { writeFileSync } = await import('node:fs');
    // The token file it names is made here (it lives in a container's secrets).
    writeFileSync(join(dir, 'token'), 'a-token\n');
    writeFileSync(join(dir, 'occs-lb.config.json'), JSON.stringify({ ...readmeExample, tokenFile: join(dir, 'token') }));
    const settings = await loadSettings({}, { ...processIo(), cwd: dir, env: {} });
    expect(settings.resources).toHaveLength(2);
  });

  it.each([
    ['an unknown key', { ...readmeExample, statsPasword: 'x' }],
    ['a key of the wrong type', { ...readmeExample, statsPort: '1936' }],
    ['an unknown key in a resource', { ...readmeExample, resources: [{ template: 't.ejs', destinaton: 'x' }] }],
    ['an empty list of prefixes', { ...readmeExample, prefixes: [] }],
  ])('refuses %s', (_, config) => {
    expect(validate(config)).toBe(false);
    expect(fileConfigSchema.safeParse(config).success).toBe(false);
  });
});
