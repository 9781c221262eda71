import { existsSync, readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.js';
import { usageError } from '../errors.js';
import { locateHaproxy } from '../haproxy/binary.js';
import { configRejected } from '../haproxy/check.js';
import { haproxyControl, type HaproxyControl } from '../haproxy/control.js';
import { isSummary } from '../haproxy/messages.js';
import { describeReload } from '../haproxy/reload.js';
import type { CommandContext } from './context.js';
import { jsonDocument } from './json-document.js';

export interface ReloadOptions {
  /** false with --no-check: skip `haproxy -c` of the installed config. */
  check: boolean;
  format: 'text' | 'json';
}

/**
 * `occs-lb reload`: `haproxy -c` the installed config (a rejected one → exit 5, nothing
 * reloaded), then reload the running HAProxy by the chosen strategy and prove it happened.
 * stdout: one line, or one JSON document (the CLI prints the failure document).
 */
export async function reload(settings: Readonly<Settings>, { io, log, redact }: CommandContext, options: ReloadOptions): Promise<void> {
  const { config, reload: strategy } = settings.haproxy;
  // What the settings left out (a misspelt OCCS_LB_ variable), as render and watch say it.
  for (const notice of settings.notices) log.warn(notice);
  if (!strategy) {
    throw usageError('no way to reach HAProxy was given', {
      hint: 'pass --master-socket PATH (master-worker), --pid-file PATH or --reload-cmd "COMMAND"',
    });
  }
  if (!existsSync(config)) {
    throw usageError(`the HAProxy config ${config} does not exist`, { hint: 'point --haproxy-config at the installed config' });
  }
  const needsBinary = options.check || strategy.kind === 'pid-file';
  const binary = needsBinary
    ? locateHaproxy(settings.haproxy.binary, io.env, options.check ? 'skip the check with --no-check' : 'use --reload-cmd')
    : settings.haproxy.binary;
  const control = haproxyControl({ binary, config, reloadTimeoutMs: settings.haproxy.reloadTimeoutMs, strategy });
  if (options.check) await checkInstalled(control, config, log);
  const result = (await control.reload())!;
  const steps = [
    options.check ? { step: 'haproxy -c', status: 'ok', note: config } : { step: 'haproxy -c', status: 'skipped', note: '--no-check' },
    { step: 'reload', status: 'ok', note: result.strategy },
  ];
  io.stdout.write(options.format === 'json' ? jsonDocument(redact({ ok: true, steps, ...result })) : `${redact(describeReload(result))}\n`);
}

/** `haproxy -c` of the installed file; an ALERT stops the reload with exit 5. */
async function checkInstalled(control: HaproxyControl, config: string, log: CommandContext['log']): Promise<void> {
  const result = await control.check(config);
  for (const w of result.messages.filter((m) => m.level === 'warning' && !isSummary(m))) log.warn(`haproxy -c: ${w.message}`);
  if (result.valid) return;
  throw configRejected(result, {
    file: config,
    shownAs: config,
    text: readFileSync(config, 'utf8'),
    consequence: 'nothing was reloaded',
    hint: 'fix the config (occs-lb validate shows every problem), or render it again',
  });
}
