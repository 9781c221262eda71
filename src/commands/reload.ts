import { existsSync, readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.js';
import { rejectedError, usageError } from '../errors.js';
import { locateHaproxy } from '../haproxy/binary.js';
import { checkConfigFile } from '../haproxy/check.js';
import { isSummary } from '../haproxy/messages.js';
import { describeReload, reloadHaproxy } from '../haproxy/reload.js';
import { configContext } from '../pipeline/check-config.js';
import type { CommandContext } from './context.js';

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
    : undefined;
  if (options.check) await checkInstalled(binary!, config, log);
  const result = await reloadHaproxy(strategy, { binary, config, timeoutMs: settings.haproxy.reloadTimeoutMs });
  io.stdout.write(options.format === 'json' ? `${JSON.stringify(redact({ ok: true, ...result }))}\n` : `${redact(describeReload(result))}\n`);
}

/** `haproxy -c` of the installed file; an ALERT stops the reload with exit 5. */
async function checkInstalled(binary: string, config: string, log: CommandContext['log']): Promise<void> {
  const result = await checkConfigFile(binary, config);
  const relevant = result.messages.filter((m) => m.level !== 'notice' && !isSummary(m));
  for (const w of relevant.filter((m) => m.level === 'warning')) log.warn(`haproxy -c: ${w.message}`);
  if (result.valid) return;
  const alerts = relevant.filter((m) => m.level === 'alert');
  const first = alerts[0];
  const text = readFileSync(config, 'utf8');
  throw rejectedError(
    'CONFIG_REJECTED',
    `haproxy -c rejected ${config}${first ? `${first.line ? ` at line ${first.line}` : ''}: ${first.message}` : ''}; nothing was reloaded`,
    {
      hint: 'fix the config (occs-lb validate shows every problem), or render it again',
      detail: first?.line ? configContext(text, first.line) : undefined,
    },
  );
}
