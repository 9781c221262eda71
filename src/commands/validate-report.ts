import { configContext, echoNaming, type CheckResult } from '../haproxy/check.js';
import { isSummary } from '../haproxy/messages.js';
import { printable } from '../log.js';
import { missingDefaultLine } from '../plan/rules.js';
import type { Stack } from '../stack/model.js';
import { routeKey } from '../values/routes.js';
import { shown } from '../values/shown.js';
import { certExpiryLine, certInfo, daysLeft, type TlsModel } from '../tls/certs.js';

/** One problem (or warning) found while checking, in the shape `validate --format json` prints. */
export interface Finding {
  source: 'template' | 'kv' | 'min-servers' | 'haproxy' | 'config' | 'reload' | 'internal' | 'tls';
  message: string;
  /** Line in the checked config (the rendered text), when known. */
  line?: number;
  /** The key/value entry concerned, when there is one. */
  key?: string;
  /** A few lines of the config around `line`. */
  context?: string;
}

export type StepStatus = 'ok' | 'failed' | 'skipped';

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
  /** Stack mode: each service, its servers and the routes to it. */
  services?: Array<{ name: string; servers: number; routes: string[] }>;
  /** HTTPS: each certificate served, with its names and expiry (never its key), the default first. */
  certificates?: Array<{ name: string; names: readonly string[]; notAfter: string; daysLeft: number; serial: string; from: string; default: boolean }>;
}

/** HTTPS: the certificates served, and a warning for each that expires within --cert-warn (and for a --default-cert that is not served). */
export function reportCertificates(report: ValidationReport, tls: TlsModel, now: number): void {
  const fallback = tls.fallback?.name;
  report.certificates = tls.certs.map((c) => ({
    ...certInfo(c),
    from: shown(c.from),
    notAfter: new Date(c.bundle.notAfter).toISOString(),
    daysLeft: daysLeft(c.bundle, now),
    default: c.name === fallback,
  }));
  for (const c of tls.certs) {
    if (c.bundle.notAfter - now < tls.settings.warnMs) report.warnings.push({ source: 'tls', message: certExpiryLine(certInfo(c), now) });
  }
  for (const note of tls.notes) report.warnings.push({ source: 'tls', message: note });
}

/** Stack mode: the services with their servers and routes, and a default service that is no app. */
export function reportStack(report: ValidationReport, stack: Stack): void {
  report.services = stack.services.map((s) => ({
    name: s.name,
    servers: s.servers.length,
    routes: stack.routes.filter((r) => r.service === s.name).map(routeKey),
  }));
  const missing = missingDefaultLine([{ stack }]);
  if (missing) report.warnings.push({ source: 'config', message: missing });
}

/**
 * `haproxy -c`'s messages as findings, mapped back to lines of `text` (the file it read was a temp
 * copy, whose path means nothing to the user). HAProxy's warnings are errors unless `allowWarnings`.
 */
export function haproxyFindings(
  result: CheckResult,
  file: string,
  text: string,
  allowWarnings: boolean,
  origin: (line: number) => string | undefined = () => undefined,
): { errors: Finding[]; warnings: Finding[] } {
  const errors: Finding[] = [];
  const warnings: Finding[] = [];
  for (const m of result.messages) {
    if (m.level === 'notice' || isSummary(m)) continue;
    const line = m.file === file ? m.line : undefined;
    const from = line ? origin(line) : undefined;
    const message = `[${m.level.toUpperCase()}] ${echoNaming(m.message, file, 'the config')}${from ? ` (from template ${from})` : ''}`;
    const finding: Finding = { source: 'haproxy', message, line, context: line ? configContext(text, line) : undefined };
    (m.level === 'alert' || !allowWarnings ? errors : warnings).push(finding);
  }
  if (!result.valid && errors.length === 0) {
    errors.push({
      source: 'haproxy',
      message: `haproxy -c rejected the config: ${echoNaming(result.output.trim().split('\n').pop() ?? '', file, 'the config')}`,
    });
  }
  return { errors, warnings };
}

/** The text report: one line per step, the backends, then each error and warning. */
export function formatReport(report: ValidationReport): string {
  const out: string[] = [`config: ${report.configs.join(', ') || '(not rendered)'}`];
  for (const s of report.steps) out.push(`${s.status.padEnd(7)} ${s.step}${s.note ? ` (${s.note})` : ''}`);
  const backends = Object.entries(report.backends).map(([name, n]) => `${name}: ${n} server${n === 1 ? '' : 's'}`);
  if (backends.length > 0) out.push(`backends ${backends.join(', ')}`);
  for (const c of report.certificates ?? []) {
    const days = `${c.daysLeft} day${c.daysLeft === 1 ? '' : 's'}`;
    out.push(`certificate ${c.name}${c.default ? ' (default)' : ''}: ${c.names.join(' ')}, expires ${c.notAfter} (in ${days}), from ${c.from}`);
  }
  for (const s of report.services ?? []) {
    out.push(`service ${s.name}: ${s.servers} server${s.servers === 1 ? '' : 's'}, ${s.routes.length > 0 ? `routes ${s.routes.join(' ')}` : 'no route'}`);
  }
  const finding = (label: string, f: Finding) => {
    out.push(`${label.padEnd(7)} [${f.source}]${f.line ? ` line ${f.line}:` : ''} ${printable(f.message)}`);
    if (f.context) out.push(...f.context.split('\n').map((l) => `          ${l}`));
  };
  for (const f of report.errors) finding('error', f);
  for (const f of report.warnings) finding('warning', f);
  out.push(report.ok ? 'result: ok' : `result: rejected (${report.errors.length} error${report.errors.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
