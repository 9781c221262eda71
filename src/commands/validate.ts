import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Settings } from '../config/settings.js';
import { errorSource, OccsError, rejectedError, systemErrorCode, usageError, withHint } from '../errors.js';
import { haproxyVersion, locateHaproxy } from '../haproxy/binary.js';
import { checkConfigText } from '../haproxy/check.js';
import { parseSections, serverCounts } from '../haproxy/config-sections.js';
import { gone, renderSnapshot } from '../plan/plan.js';
import { emptyPrefixLine, rejectedLine, shortfallFinding, shortfalls, skippedLine } from '../plan/rules.js';
import { readStore, storeName } from '../wiring/store.js';
import { compileTemplates } from '../wiring/templates.js';
import { templateOrigin } from '../template/line-origin.js';
import { NO_ROUTE_BACKEND } from '../config/stack-settings.js';
import type { Companion } from '../stack/maps.js';
import type { CommandContext } from './context.js';
import { jsonDocument } from './json-document.js';
import { DEMO_CREDENTIALS_WARNING, usesDemoCredentials } from './report.js';
import { formatReport, haproxyFindings, reportCertificates, reportStack, type Finding, type StepStatus, type ValidationReport } from './validate-report.js';

export interface ValidateOptions {
  /** Check this file instead of rendering. */
  file?: string;
  format: 'text' | 'json';
  allowWarnings: boolean;
  /** false with --no-haproxy: skip `haproxy -c` (and say so). */
  haproxy: boolean;
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
  const print = () => io.stdout.write(options.format === 'json' ? jsonDocument(redact({ ...report })) : formatReport(redact(report)));

  let texts: Checked[];
  try {
    texts = options.file ? [await readConfigFile(options.file)] : await renderForCheck(settings, report, options.allowWarnings);
  } catch (error) {
    if (!(error instanceof OccsError)) throw error;
    // The text report tells the error whole, hint and all (JSON keeps its message as it was).
    const text = options.format === 'text';
    report.errors.push({ source: errorSource(error), message: text ? withHint(error) : error.message, context: error.detail });
    print();
    error.inReport = text;
    throw error;
  }
  for (const checked of texts) await checkText(report, checked, settings.minServers, binary, options.allowWarnings);
  report.haproxyVersion = await version;
  addCheckSteps(report, settings.minServers, binary !== undefined);
  report.ok = report.errors.length === 0;
  print();
  if (!report.ok) {
    throw rejectedError(
      'CONFIG_REJECTED',
      `the config was rejected: ${report.errors.length} error${report.errors.length === 1 ? '' : 's'}, listed in the report`,
      {
        hint: report.errors.some((e) => e.source === 'haproxy' && e.message.startsWith('[WARNING]'))
          ? 'fix the warnings, or pass --allow-warnings'
          : 'fix the template, the entries or the settings',
      },
    );
  }
}

/** A config to check: how the report names it, its text, and the map files it reads (stack mode). */
interface Checked {
  label: string;
  text: string;
  maps?: Companion[];
  /** The template it was rendered from (none: a file given to check). */
  template?: string;
}

/** One config text: servers per backend against --min-servers, then the real `haproxy -c`. */
async function checkText(
  report: ValidationReport,
  { label, text, maps, template }: Checked,
  minServers: number,
  binary: string | undefined,
  allowWarnings: boolean,
) {
  report.configs.push(label);
  const backends = serverCounts(parseSections(text));
  // Stack mode's 404 backend answers by itself: it has no servers by design.
  if (maps) delete backends[NO_ROUTE_BACKEND];
  Object.assign(report.backends, backends);
  for (const s of shortfalls(backends, minServers)) report.errors.push({ source: 'min-servers', message: shortfallFinding(s) });
  if (!binary) return;
  const { result, file } = await checkConfigText(binary, text, maps);
  const found = haproxyFindings(result, file, text, allowWarnings, template ? templateOrigin(template, text) : undefined);
  report.errors.push(...found.errors);
  report.warnings.push(...found.warnings);
}

function addCheckSteps(report: ValidationReport, minServers: number, checked: boolean): void {
  const failed = (source: Finding['source']): StepStatus => (report.errors.some((e) => e.source === source) ? 'failed' : 'ok');
  report.steps.push(
    minServers > 0
      ? { step: 'min-servers', status: failed('min-servers'), note: `at least ${minServers} per backend` }
      : { step: 'min-servers', status: 'skipped', note: 'no --min-servers' },
  );
  report.steps.push(
    checked
      ? { step: 'haproxy -c', status: failed('haproxy'), note: report.haproxyVersion && `HAProxy ${report.haproxyVersion}` }
      : { step: 'haproxy -c', status: 'skipped', note: '--no-haproxy' },
  );
}

async function readConfigFile(file: string): Promise<Checked> {
  try {
    return { label: file, text: await readFile(file, 'utf8') };
  } catch (error) {
    throw usageError(`cannot read ${file} (${systemErrorCode(error) ?? String(error)})`, { hint: 'give the path of an HAProxy config file' });
  }
}

/** Renders every resource as `render` would, recording each step and what the rules found in the report. */
async function renderForCheck(settings: Readonly<Settings>, report: ValidationReport, allowWarnings: boolean): Promise<Checked[]> {
  const templates = await compileTemplates(settings.resources);
  report.steps.push({ step: 'template', status: 'ok', note: [...templates.keys()].join(', ') });
  for (const message of settings.notices) report.warnings.push({ source: 'config', message });
  if (usesDemoCredentials(settings)) {
    report.warnings.push({ source: 'config', message: DEMO_CREDENTIALS_WARNING });
  }
  const socketDir = settings.vars.adminSocket && dirname(settings.vars.adminSocket);
  if (socketDir && !existsSync(socketDir)) {
    // HAProxy fails to start with it, so it fails the check as HAProxy's own warnings do.
    (allowWarnings ? report.warnings : report.errors).push({
      source: 'config',
      message: `the admin socket's directory ${socketDir} does not exist: HAProxy will not start with this config (haproxy -c does not notice)`,
    });
  }
  const snapshot = await readStore(settings);
  const rendering = renderSnapshot(settings, templates, snapshot, { checking: true });
  for (const empty of rendering.emptyPrefixes) report.warnings.push({ source: 'kv', message: emptyPrefixLine(storeName(settings), empty) });
  for (const n of rendering.notices) report.warnings.push({ source: 'kv', key: n.key, message: n.message });
  report.skipped = rendering.skipped;
  for (const s of rendering.skipped) {
    if (rendering.strict) report.errors.push({ source: 'kv', key: s.key, message: rejectedLine(s) });
    else report.warnings.push({ source: 'kv', key: s.key, message: skippedLine(s) });
  }
  report.steps.push({
    step: 'key/value entries',
    status: rendering.strict ? 'failed' : 'ok',
    note: `${snapshot.pairs.length} read, ${rendering.skipped.length} ${rendering.strict ? 'rejected by --strict' : 'skipped'}`,
  });
  for (const r of rendering.resources) if (r.stack) reportStack(report, r.stack);
  for (const r of rendering.resources) if (r.tls) reportCertificates(report, r.tls, Date.now());
  // Stack mode: apps a route names that have no server, and a stack of no app, are backends with none.
  for (const s of shortfalls(gone(rendering.resources, settings.stack?.apps), settings.minServers))
    report.errors.push({ source: 'min-servers', message: shortfallFinding(s) });
  return rendering.resources
    .filter((r) => r.resource.haproxy)
    .map((r) => ({ label: r.resource.destination ?? `rendered from ${r.resource.template}`, text: r.text, maps: r.companions, template: r.resource.template }));
}
