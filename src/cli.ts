import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import type { Flags, Settings } from './config/settings.js';
import { ExitCode, OccsError } from './errors.js';
import { processIo, type Io } from './io.js';
import { createLogger, type Logger } from './log.js';
import { Redactor } from './util/redact.js';

const HELP_AFTER = `
Environment (the old confd image's variables):
  KV_IP, KV_PORT          key/value endpoint when --kv is absent (http://KV_IP:KV_PORT)
  OCCS_API_TOKEN          token, sent as "Authorization: Bearer" and "X-Consul-Token"
  OCCS_API_TOKEN_FILE     file holding the token (preferred over the variable in containers)
  OCCS_BACKEND_KEY        key prefix of the backends, e.g. apps/myapp/containers
  OCCS_LB_STATS_USER, OCCS_LB_STATS_PASSWORD   stats page credentials

Key/value sources (--kv):
  http(s)://HOST:PORT, occs://HOST:PORT (port 9109), consul://HOST:PORT (port 8500), file:PATH

Precedence: flags > environment > config file (occs-lb.config.*, .occs-lbrc*, package.json#occs-lb) > defaults.

Exit codes:
  0 success   1 unexpected failure   2 usage or configuration error
  3 key/value store unreachable or unauthorised   4 template error
  5 rendered config rejected   6 reload failed`;

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI and returns the exit code; the bin sets it. Never calls process.exit. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const redactor = new Redactor();
  redactor.add(io.env.OCCS_API_TOKEN);
  let exitCode: number = ExitCode.ok;
  let log: Logger = createLogger({ stream: io.stderr, format: 'text', verbosity: 'normal', redactor });

  /** Settings, a logger that matches them, and the command function, loaded lazily. */
  const run = (load: () => Promise<(settings: Readonly<Settings>, ctx: CommandContext) => Promise<void>>) =>
    async (_: unknown, command: Command) => {
      const flags = command.optsWithGlobals<Flags & { config?: string }>();
      redactor.add(flags.token);
      log = createLogger({
        stream: io.stderr,
        format: flags.logFormat === 'json' ? 'json' : 'text',
        verbosity: flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal',
        redactor,
      });
      const { loadSettings } = await import('./config/load.js');
      const settings = await loadSettings(flags, io);
      redactor.add(settings.token);
      redactor.add(settings.vars.statsPassword);
      log = createLogger({ stream: io.stderr, format: settings.logFormat ?? 'text', verbosity: settings.verbosity, redactor });
      const commandFunction = await load();
      await commandFunction(settings, { io, log });
    };

  const program = new Command('occs-lb')
    .description("Keeps HAProxy's backend servers in step with a key/value store (OCCS, Consul, etcd or a file).")
    .version(packageVersion(), '-V, --version')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(redactor.apply(text)),
    })
    .exitOverride()
    .option('--kv <url>', 'key/value source: http(s)://, occs://, consul:// or file:PATH')
    .option('--token <token>', 'API token (prefer OCCS_API_TOKEN_FILE: flags show in ps)')
    .option('--token-file <file>', 'read the API token from a file')
    .option('--prefix <key>', 'key prefix to read (repeatable; the first one holds the servers)', collect)
    .option('--template <file>', 'EJS template (default: the shipped haproxy.cfg.ejs)')
    .option('--config <file>', 'config file (default: searched in the current directory)')
    .option('--kv-timeout <duration>', 'timeout of each key/value request, e.g. 5s (default: 10s)')
    .option('--kv-ca <file>', 'PEM file of CAs to trust for https key/value stores')
    .option('--insecure', 'do not verify the key/value store\'s TLS certificate')
    .option('--strict', 'fail (exit 5) instead of skipping invalid key/value entries')
    .option('--bind <address>', 'address the frontend and stats listener bind (default: *)')
    .option('--frontend-port <port>', 'frontend port (default: 5000)')
    .option('--stats-port <port>', 'stats page port (default: 1936)')
    .option('--backend-name <name>', 'name of the backend (default: nginx_80)')
    .option('--balance <algorithm>', 'balance algorithm (default: roundrobin)')
    .addOption(new Option('--log-format <format>', 'log format on stderr').choices(['text', 'json']))
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print debug logs and stack traces')
    .addHelpText('after', HELP_AFTER);

  program
    .command('render')
    .description('read the store once and print the config, or install it atomically with --out')
    .option('-o, --out <file>', 'write the config to FILE atomically (temp file, fsync, rename) instead of stdout')
    .addHelpText('after', HELP_AFTER)
    .action(run(async () => (await import('./commands/render.js')).render));

  try {
    await program.parseAsync(argv);
  } catch (error) {
    exitCode = exitCodeOf(error, log);
  }
  return exitCode;
}

function exitCodeOf(error: unknown, log: Logger): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (or the help).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof OccsError) {
    const hint = error.hint ? ` (${error.hint})` : '';
    log.error(`${error.message}${hint}`, { code: error.code, detail: error.detail, ...stackField(error, log) });
    return error.exitCode;
  }
  log.error(`unexpected failure: ${(error as Error)?.message ?? String(error)} (run with --verbose for a stack trace)`, stackField(error, log));
  return ExitCode.unexpected;
}

function stackField(error: unknown, log: Logger): { stack?: string } {
  if (log.verbosity !== 'verbose') return {};
  const parts: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) parts.push(e.stack ?? String(e));
  return { stack: parts.join('\ncaused by: ') };
}

