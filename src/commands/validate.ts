import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Settings } from '../config/settings.js';
import { DEMO_CREDENTIALS_WARNING, usesDemoCredentials } from './report.js';
import { errorSource, OccsError, rejectedError, systemErrorCode, usageError } from '../errors.js';
import { haproxyVersion, locateHaproxy } from '../haproxy/binary.js';
import { printable } from '../log.js';
import { checkConfigText, type Finding } from '../pipeline/check-config.js';
import { compileTemplates, emptyPrefixes, emptyPrefixWarning, readStore, renderResources } from '../pipeline/render.js';
import type { CommandContext } from './context.js';

export interface ValidateOptions {
  /** Check this file instead of rendering. */
  file?: string;
  format: 'text' | 'json';
  allowWarnings: boolean;
  /** false with --no-haproxy: skip `haproxy -c` (and say so). */
  haproxy: boolean;
}

type StepStatus = 'ok' | 'failed' | 'skipped';

/** What `validate` found; `--format json` prints exactly this. */
export interface ValidationReport {
  ok: boolean;
  configs: string[];
  steps: Array<{ step: string; status: StepStatus; note?: string }>;
  errors: Finding[];
  warnings: Finding[];
  backends: Record<string, number>;
  skipped: Array<{ key: string; reason: string }>;
  haproxyVersion?: string;
}

/**
 * `occs-lb validate [FILE]`: render as `render` would (or read FILE), then check, in order: the
 * template compiles, every key/value entry parses, --min-servers per backend, `haproxy -c`.
 * The report goes to stdout; a failed check ends with the matching exit code.
 */
export async function validate(settings: Readonly<Settings>, { io, redact }: CommandContext, options: ValidateOptions): Promise<void> {
  const binary = options.haproxy ? locateHaproxy(settings.haproxy.binary, io.env, 'skip that step with --no-haproxy') : undefined;
  const report: ValidationReport = { ok: false, configs: [], steps: [], errors: [], warnings: [], backends: {}, skipped: [] };
  const version = binary ? haproxyVersion(binary) : undefined;
  const print = () => io.stdout.write(options.format === 'json' ? `${JSON.stringify(redact(report), null, 2)}\n` : formatReport(redact(report)));

  let texts: Array<{ label: string; text: string }>;
  try {
    texts = options.file ? [await readConfigFile(options.file)] : await renderForCheck(settings, report);
  } catch (error) {
    if (!(error instanceof OccsError)) throw error;
    report.errors.push({ source: errorSource(error), message: error.message, context: error.detail });
    print();
    throw error;
  }

  for (const { label, text } of texts) {
    report.configs.push(label);
    const check = await checkConfigText(text, { binary, allowWarnings: options.allowWarnings, minServers: settings.minServers });
    Object.assign(report.backends, check.backends);
    report.errors.push(...check.errors);
    report.warnings.push(...check.warnings);
  }
  report.haproxyVersion = await version;
  const failed = (source: Finding['source']): StepStatus => (report.errors.some((e) => e.source === source) ? 'failed' : 'ok');
  report.steps.push(
    settings.minServers > 0
      ? { step: 'min-servers', status: failed('min-servers'), note: `at least ${settings.minServers} per backend` }
      : { step: 'min-servers', status: 'skipped', note: 'no --min-servers' },
  );
  report.steps.push(
    binary
      ? { step: 'haproxy -c', status: failed('haproxy'), note: report.haproxyVersion && `HAProxy ${report.haproxyVersion}` }
      : { step: 'haproxy -c', status: 'skipped', note: '--no-haproxy' },
  );
  report.ok = report.errors.length === 0;
  print();
  if (!report.ok) {
    throw rejectedError('CONFIG_REJECTED', `the config was rejected: ${report.errors.length} error${report.errors.length === 1 ? '' : 's'} (see the report)`, {
      hint: report.errors.some((e) => e.source === 'haproxy' && e.message.startsWith('[WARNING]'))
        ? 'fix the warnings, or pass --allow-warnings'
        : 'fix the template, the entries or the settings',
    });
  }
}

async function readConfigFile(file: string): Promise<{ label: string; text: string }> {
  try {
    return { label: file, text: await readFile(file, 'utf8') };
  } catch (error) {
    throw usageError(`cannot read ${file} (${systemErrorCode(error) ?? String(error)})`, { hint: 'give the path of an HAProxy config file' });
  }
}

/** Renders every resource as `render` would, recording each step in the report. */
async function renderForCheck(settings: Readonly<Settings>, report: ValidationReport): Promise<Array<{ label: string; text: string }>> {
  const templates = await compileTemplates(settings.resources);
  report.steps.push({ step: 'template', status: 'ok', note: [...templates.keys()].join(', ') });
  if (usesDemoCredentials(settings)) {
    report.warnings.push({ source: 'config', message: DEMO_CREDENTIALS_WARNING });
  }
  const socketDir = settings.vars.adminSocket && dirname(settings.vars.adminSocket);
  if (socketDir && !existsSync(socketDir)) {
    report.warnings.push({
      source: 'config',
      message: `the admin socket's directory ${socketDir} does not exist: HAProxy will not start with this config (haproxy -c does not notice)`,
    });
  }
  const snapshot = await readStore(settings);
  const rendered = renderResources(settings, templates, snapshot);
  for (const prefix of emptyPrefixes(settings, snapshot)) report.warnings.push({ source: 'kv', message: emptyPrefixWarning(settings, prefix, snapshot) });
  const skipped = rendered.flatMap((r) => r.diagnostics.skipped);
  report.skipped = skipped;
  for (const s of skipped) {
    (settings.strict ? report.errors : report.warnings).push({ source: 'kv', key: s.key, message: `skipped ${s.key}: ${s.reason}` });
  }
  report.steps.push({
    step: 'key/value entries',
    status: settings.strict && skipped.length > 0 ? 'failed' : 'ok',
    note: `${snapshot.pairs.length} read, ${skipped.length} skipped${settings.strict && skipped.length > 0 ? ' (--strict)' : ''}`,
  });
  return rendered.filter((r) => r.resource.haproxy).map((r) => ({ label: r.resource.destination ?? `rendered from ${r.resource.template}`, text: r.text }));
}

function formatReport(report: ValidationReport): string {
  const out: string[] = [`config: ${report.configs.join(', ') || '(not rendered)'}`];
  for (const s of report.steps) out.push(`${s.status.padEnd(7)} ${s.step}${s.note ? ` (${s.note})` : ''}`);
  const backends = Object.entries(report.backends).map(([name, n]) => `${name}: ${n} server${n === 1 ? '' : 's'}`);
  if (backends.length > 0) out.push(`backends ${backends.join(', ')}`);
  const finding = (label: string, f: Finding) => {
    out.push(`${label.padEnd(7)} [${f.source}]${f.line ? ` line ${f.line}:` : ''} ${printable(f.message)}`);
    if (f.context) out.push(...f.context.split('\n').map((l) => `          ${l}`));
  };
  for (const f of report.errors) finding('error', f);
  for (const f of report.warnings) finding('warning', f);
  out.push(report.ok ? 'result: ok' : `result: rejected (${report.errors.length} error${report.errors.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
