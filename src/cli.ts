import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import type { CommandContext } from './commands/context.js';
import type { Flags, Settings } from './config/settings.js';
import { errorSource, ExitCode, OccsError } from './errors.js';
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
  KV_USER, KV_PASSWORD, KV_PASSWORD_FILE       etcd user and password

Key/value sources (--kv):
  http(s)://HOST:PORT, occs://HOST:PORT (port 9109), consul://HOST:PORT (port 8500),
  etcd://HOST:PORT, etcds://HOST:PORT (etcd v3, port 2379), file:PATH

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

/** A command's function: an exit code when it has one of its own (watch), else success. */
type CommandFunction<O> = (settings: Readonly<Settings>, ctx: CommandContext, options: O) => Promise<number | void>;

const formatOption = () => new Option('--format <format>', 'report format on stdout').choices(['text', 'json']).default('text');

/** The options that say how to reach the running HAProxy (reload, and later watch). */
function addReloadOptions(command: Command): Command {
  return command
    .option('--master-socket <path>', 'HAProxy master CLI socket (-S): send "reload", verify with "show proc"')
    .option('--pid-file <path>', 'HAProxy pid file (-p): SIGUSR2 to a master-worker master, or a new -sf process')
    .option('--reload-cmd <command>', "run this shell command to reload (like confd's reload_cmd)")
    .option(
      '--haproxy-config <file>',
      'the installed HAProxy config (default: the single destination, from --out or the config file, else /etc/haproxy/haproxy.cfg)',
    )
    .option('--reload-timeout <duration>', 'how long a reload may take before it counts as failed (default: 10s)')
    .option('--haproxy <path>', 'the haproxy executable (default: haproxy on PATH)');
}

/** Runs the CLI and returns the exit code; the bin sets it. Never calls process.exit. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const redactor = new Redactor();
  redactor.add(io.env.OCCS_API_TOKEN);
  redactor.add(io.env.KV_PASSWORD);
  let exitCode: number = ExitCode.ok;
  let log: Logger = createLogger({ stream: io.stderr, format: 'text', verbosity: 'normal', redactor });

  /**
   * Loads settings, makes a logger that matches them, then runs the lazily loaded command. With
   * --format json, a failure that left stdout empty still gets one JSON document there.
   */
  async function run<O extends { format?: string }>(command: Command, load: () => Promise<CommandFunction<O>>, options: O): Promise<void> {
    let wrote = false;
    const out: Io = { ...io, stdout: { write: (chunk: string) => ((wrote = true), io.stdout.write(chunk)) } as NodeJS.WritableStream };
    try {
      const code = await runWithSettings(command, load, options, out);
      if (typeof code === 'number') exitCode = code;
    } catch (error) {
      if (options.format === 'json' && !wrote && error instanceof OccsError) {
        const failure = { source: errorSource(error), code: error.code, message: error.message, hint: error.hint };
        io.stdout.write(`${JSON.stringify(redactor.deep({ ok: false, errors: [failure] }))}\n`);
      }
      throw error;
    }
  }

  async function runWithSettings<O>(command: Command, load: () => Promise<CommandFunction<O>>, options: O, out: Io): Promise<number | void> {
    const flags = command.optsWithGlobals<Flags & { config?: string }>();
    redactor.add(flags.token);
    redactor.add(flags.kvPassword);
    // A long-lived command logs JSON lines when nobody watches the terminal (a container's log).
    const defaultFormat = command.name() === 'watch' && !io.stderrIsTTY ? 'json' : 'text';
    log = createLogger({
      stream: io.stderr,
      format: flags.logFormat === 'json' || flags.logFormat === 'text' ? flags.logFormat : defaultFormat,
      verbosity: flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal',
      redactor,
    });
    const { loadSettings } = await import('./config/load.js');
    const settings = await loadSettings(flags, io);
    redactor.add(settings.token);
    redactor.add(settings.kvPassword);
    redactor.add(settings.vars.statsPassword);
    log = createLogger({ stream: io.stderr, format: settings.logFormat ?? defaultFormat, verbosity: settings.verbosity, redactor });
    return (await load())(settings, { io: out, log, redact: (value) => redactor.deep(value) }, options);
  }

  const program = new Command('occs-lb')
    .description("Keeps HAProxy's backend servers in step with a key/value store (OCCS, Consul, etcd or a file).")
    .version(packageVersion(), '-V, --version')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(redactor.apply(text)),
    })
    .exitOverride()
    .option('--kv <url>', 'key/value source: http(s)://, occs://, consul://, etcd(s):// or file:PATH')
    .option('--token <token>', 'API token (prefer OCCS_API_TOKEN_FILE: flags show in ps)')
    .option('--token-file <file>', 'read the API token from a file')
    .option('--prefix <key>', 'key prefix to read (repeatable; the first one holds the servers)', collect)
    .option('--template <file>', 'EJS template (default: the shipped haproxy.cfg.ejs)')
    .option('--config <file>', 'config file (default: searched in the current directory)')
    .option('--kv-timeout <duration>', 'timeout of each key/value request, e.g. 5s (default: 10s)')
    .option('--kv-max-size <size>', 'largest answer taken from the store (or file: size), e.g. 64MiB (default: 16MiB)')
    .option('--kv-ca <file>', 'PEM file of one more CA to trust for https key/value stores')
    .option('--kv-cert <file>', 'client certificate (PEM) for the key/value store (with --kv-key)')
    .option('--kv-key <file>', 'key of the client certificate (PEM)')
    .option('--kv-user <name>', 'etcd user (a token is asked with the password)')
    .option('--kv-password <password>', 'etcd password (prefer KV_PASSWORD_FILE: flags show in ps)')
    .option('--kv-password-file <file>', 'read the etcd password from a file')
    .option('--insecure', "do not verify the key/value store's TLS certificate")
    .option('--strict', 'fail (exit 5) instead of skipping invalid key/value entries')
    .option('--bind <address>', 'address the frontend and stats listener bind (default: *)')
    .option('--frontend-port <port>', 'frontend port (default: 5000)')
    .option('--stats-port <port>', 'stats page port (default: 1936)')
    .option('--backend-name <name>', 'name of the backend (default: nginx_80)')
    .option('--balance <algorithm>', 'balance algorithm (default: roundrobin)')
    .option('--admin-socket <path>', 'put an admin stats socket (the runtime API) in the config at PATH (default: none)')
    .addOption(new Option('--log-format <format>', 'log format on stderr').choices(['text', 'json']))
    .option('-q, --quiet', 'print errors only')
    .option('-v, --verbose', 'print debug logs and stack traces')
    .addHelpText('after', HELP_AFTER);

  program
    .command('render')
    .description('read the store once and print the config, or install it atomically with --out')
    .option('-o, --out <file>', 'write the config to FILE atomically (temp file, fsync, rename) instead of stdout')
    .addHelpText('after', HELP_AFTER)
    .action((_, command: Command) => run(command, async () => (await import('./commands/render.js')).render, {}));

  program
    .command('validate [file]')
    .description('render (or read FILE) and check it: template, key/value entries, --min-servers, haproxy -c')
    .addOption(formatOption())
    .option('--min-servers <n>', 'fail when a backend has fewer servers (default: 0)')
    .option('--allow-warnings', 'HAProxy warnings do not fail the check')
    .option('--haproxy <path>', 'the haproxy executable (default: haproxy on PATH)')
    .option('--no-haproxy', 'skip the haproxy -c step (and say so in the report)')
    .addHelpText('after', HELP_AFTER)
    .action((file: string | undefined, opts: { format: 'text' | 'json'; allowWarnings?: boolean; haproxy?: string | false }, command: Command) =>
      run(command, async () => (await import('./commands/validate.js')).validate, {
        file,
        format: opts.format,
        allowWarnings: Boolean(opts.allowWarnings),
        haproxy: opts.haproxy !== false,
      }),
    );

  addReloadOptions(
    program
      .command('reload')
      .description('haproxy -c the installed config, then reload the running HAProxy and verify it')
      .addOption(formatOption())
      .option('--no-check', 'skip haproxy -c of the installed config'),
  )
    .addHelpText('after', HELP_AFTER)
    .action((opts: { format: 'text' | 'json'; check: boolean }, command: Command) =>
      run(command, async () => (await import('./commands/reload.js')).reload, { format: opts.format, check: opts.check }),
    );

  addReloadOptions(
    program
      .command('watch')
      .description('render → check → install → reload now and on every store change; optionally run HAProxy (--exec)')
      .option('-o, --out <file>', 'the installed HAProxy config (written atomically, checked with haproxy -c first)')
      .option('--exec <command>', 'run and supervise HAProxy in master-worker mode, e.g. "haproxy -W -db -f /etc/haproxy/haproxy.cfg"')
      .option('--wait <min[:max]>', 'quiescence: act after MIN of quiet, at most MAX after the first change (default: 200ms:2s)')
      .option('--interval <duration>', 'poll the store at this interval instead of following its changes (the old image: 5s)')
      .option('--min-servers <n>', 'refuse a store answer that leaves a backend with fewer servers (default: 0)')
      .option('--listen <host:port>', 'serve /healthz and /metrics (Prometheus) here')
      .option('--stop-timeout <duration>', "on SIGTERM/SIGINT, how long HAProxy's soft stop may take before it is terminated (default: 8s)")
      .option('--no-runtime-api', "apply every change by reload, never through HAProxy's runtime API")
      .option('--drain-timeout <duration>', 'runtime API: how long a removed server keeps its sessions before they are shut (default: 5s)')
      .option('--once', 'run the pipeline once (render, check, install, reload) and exit'),
  )
    .addHelpText(
      'after',
      `${HELP_AFTER}

Signals: SIGTERM/SIGINT stop watching and HAProxy (watch exits with its status); SIGHUP re-reads
the store, re-renders and reloads. Logs are JSON lines when stderr is not a terminal.`,
    )
    .action((opts: { once?: boolean }, command: Command) =>
      run<{ once: boolean; format?: string }>(command, async () => (await import('./commands/watch.js')).watch, { once: Boolean(opts.once) }),
    );

  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    return exitCodeOf(error, log);
  }
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
