import { Command, CommanderError } from 'commander';
import type { CommandContext } from './commands/context.js';
import { addOptions } from './config/options.js';
import type { CommandName } from './config/setting-entry.js';
import type { Flags, Settings } from './config/types.js';
import { errorSource, ExitCode, OccsError, withHint } from './errors.js';
import { processIo, type Io } from './io.js';
import { createLogger, type Logger } from './log.js';
import { jsonDocument } from './commands/json-document.js';
import { packageVersion } from './paths.js';
import { Redactor, shortSecretNotices, withRedactor } from './util/redact.js';

/** Two or three examples per help page: the top level's are the three ways occs-lb is used. */
export const EXAMPLES: Record<CommandName | 'program', string[]> = {
  program: [
    '# render once, then start HAProxy on it:',
    'occs-lb render --kv consul://127.0.0.1 --prefix apps/web/containers --out /etc/haproxy/haproxy.cfg',
    "# keep HAProxy in step, as a container's CMD:",
    'occs-lb watch --kv file:/etc/occs-lb/kv.properties --prefix apps/web/containers --out /etc/haproxy/haproxy.cfg --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg"',
    '# check the template and the entries in CI:',
    'occs-lb validate --kv file:examples/kv.properties --prefix apps/myapp/containers --strict --format json',
  ],
  render: [
    'occs-lb render --kv file:examples/kv.properties --prefix apps/myapp/containers',
    'OCCS_API_TOKEN_FILE=/run/secrets/occs-token KV_IP=172.17.0.1 KV_PORT=9109 OCCS_BACKEND_KEY=apps/web/containers occs-lb render --out /etc/haproxy/haproxy.cfg',
    'occs-lb render --kv etcd://127.0.0.1:2379 --prefix apps/web/containers --template my.cfg.ejs',
  ],
  validate: [
    'occs-lb validate --kv file:examples/kv.properties --prefix apps/myapp/containers',
    'occs-lb validate --kv consul://127.0.0.1 --prefix apps/web/containers --strict --min-servers 2 --format json',
    'occs-lb validate /etc/haproxy/haproxy.cfg',
  ],
  reload: [
    'occs-lb reload --master-socket /run/haproxy/master.sock --haproxy-config /etc/haproxy/haproxy.cfg',
    'occs-lb reload --pid-file /run/haproxy.pid',
    'occs-lb reload --reload-cmd "systemctl reload haproxy" --format json',
  ],
  watch: [
    'occs-lb watch --kv consul://127.0.0.1 --prefix apps/web/containers --out /etc/haproxy/haproxy.cfg --exec "haproxy -W -db -f /etc/haproxy/haproxy.cfg" --listen 127.0.0.1:8080',
    'occs-lb watch --kv etcd://127.0.0.1:2379 --prefix apps/web/containers --out /etc/haproxy/haproxy.cfg --master-socket /run/haproxy/master.sock',
    'occs-lb watch --once --kv consul://127.0.0.1 --prefix apps/web/containers --out /etc/haproxy/haproxy.cfg --reload-cmd "systemctl reload haproxy"',
  ],
};

const examples = (scope: CommandName | 'program') => `\nExamples:\n${EXAMPLES[scope].map((line) => `  ${line}`).join('\n')}\n`;

const EXIT_CODES = `
Exit codes:
  0 success   1 unexpected failure   2 usage or configuration error
  3 key/value store unreachable or unauthorised   4 template error
  5 rendered config rejected   6 reload failed`;

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
${EXIT_CODES}`;

/** A command's function: an exit code when it has one of its own (watch), else success. */
type CommandFunction<O> = (settings: Readonly<Settings>, ctx: CommandContext, options: O) => Promise<number | void>;

/** One run of the CLI: the redactor, the logger (remade once the settings are known) and the exit code. */
class CliRun {
  readonly redactor = new Redactor();
  exitCode: number = ExitCode.ok;
  log: Logger;

  constructor(private readonly io: Io) {
    this.redactor.add(io.env.OCCS_API_TOKEN);
    this.redactor.add(io.env.KV_PASSWORD);
    this.log = createLogger({ stream: io.stderr, format: 'text', verbosity: 'normal', redactor: this.redactor });
  }

  /**
   * Loads settings, makes a logger that matches them, then runs the lazily loaded command. With
   * --format json, a failure that left stdout empty still gets one JSON document there.
   */
  async run<O extends { format?: string }>(command: Command, load: () => Promise<CommandFunction<O>>, options: O): Promise<void> {
    const { io, redactor } = this;
    let wrote = false;
    const out: Io = { ...io, stdout: { write: (chunk: string) => ((wrote = true), io.stdout.write(chunk)) } as NodeJS.WritableStream };
    try {
      // Every quote of a store or HAProxy in this run masks the run's secrets, the short ones too.
      const code = await withRedactor(redactor, () => this.runWithSettings(command, load, options, out));
      if (typeof code === 'number') this.exitCode = code;
    } catch (error) {
      if (options.format === 'json' && !wrote && error instanceof OccsError) {
        const failure = { source: errorSource(error), code: error.code, message: error.message, hint: error.hint };
        io.stdout.write(jsonDocument(redactor.deep({ ok: false, errors: [failure] })));
      }
      throw error;
    }
  }

  private async runWithSettings<O>(command: Command, load: () => Promise<CommandFunction<O>>, options: O, out: Io): Promise<number | void> {
    const { io, redactor } = this;
    const flags = command.optsWithGlobals<Flags>();
    redactor.add(flags.token);
    redactor.add(flags.kvPassword);
    // A long-lived command logs JSON lines when nobody watches the terminal (a container's log).
    const defaultFormat = command.name() === 'watch' && !io.stderrIsTTY ? 'json' : 'text';
    this.log = createLogger({
      stream: io.stderr,
      format: flags.logFormat === 'json' || flags.logFormat === 'text' ? flags.logFormat : defaultFormat,
      verbosity: flags.quiet ? 'quiet' : flags.verbose ? 'verbose' : 'normal',
      redactor,
    });
    const { loadSettings } = await import('./config/load.js');
    const loaded = await loadSettings(flags, io);
    const secrets = { 'the token': loaded.token, 'the etcd password': loaded.kvPassword, 'the stats password': loaded.vars.statsPassword };
    for (const secret of Object.values(secrets)) redactor.add(secret);
    // Said where the command says the other notices: once, and in validate's report too.
    const settings = Object.freeze({ ...loaded, notices: [...loaded.notices, ...shortSecretNotices(secrets)] });
    this.log = createLogger({ stream: io.stderr, format: settings.logFormat ?? defaultFormat, verbosity: settings.verbosity, redactor });
    return (await load())(settings, { io: out, log: this.log, redact: (value) => redactor.deep(value) }, options);
  }
}

/** A command with its options from the settings table and the shared help epilog; the caller adds the action. */
function addCommand(program: Command, name: CommandName, usage: string, description: string, helpAfter = HELP_AFTER): Command {
  return addOptions(program.command(usage).description(description), name)
    .addHelpText('after', `${examples(name)}${helpAfter}`)
    .showHelpAfterError(`(occs-lb ${name} --help lists the options it takes)`);
}

function addCommands(program: Command, cli: CliRun): void {
  addCommand(program, 'render', 'render', 'read the store once and print the config, or check and install it with --out').action(
    (opts: { check: boolean }, command: Command) =>
      cli.run<{ check: boolean; format?: string }>(command, async () => (await import('./commands/render.js')).render, { check: opts.check }),
  );

  addCommand(program, 'validate', 'validate [file]', 'render (or read FILE) and check it: template, key/value entries, --min-servers, haproxy -c').action(
    (file: string | undefined, opts: { format: 'text' | 'json'; allowWarnings?: boolean; haproxy?: string | false }, command: Command) =>
      cli.run(command, async () => (await import('./commands/validate.js')).validate, {
        file,
        format: opts.format,
        allowWarnings: Boolean(opts.allowWarnings),
        haproxy: opts.haproxy !== false,
      }),
  );

  addCommand(program, 'reload', 'reload', 'haproxy -c the installed config, then reload the running HAProxy and verify it', EXIT_CODES).action(
    (opts: { format: 'text' | 'json'; check: boolean }, command: Command) =>
      cli.run(command, async () => (await import('./commands/reload.js')).reload, { format: opts.format, check: opts.check }),
  );

  addCommand(
    program,
    'watch',
    'watch',
    'render → check → install → reload now and on every store change; optionally run HAProxy (--exec)',
    `${HELP_AFTER}

Signals: SIGTERM/SIGINT stop watching and HAProxy (watch exits with its status); SIGHUP re-reads
the store, re-renders and reloads. Logs are JSON lines when stderr is not a terminal.`,
  ).action((opts: { once?: boolean }, command: Command) =>
    cli.run<{ once: boolean; format?: string }>(command, async () => (await import('./commands/watch.js')).watch, { once: Boolean(opts.once) }),
  );
}

function createProgram(io: Io, cli: CliRun): Command {
  const program = new Command('occs-lb')
    .description("Keeps HAProxy's backend servers in step with a key/value store (OCCS, Consul, etcd or a file).")
    .version(packageVersion(), '-V, --version')
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(cli.redactor.apply(text)),
    })
    .exitOverride();
  addOptions(program, 'program').addHelpText('after', `${examples('program')}${HELP_AFTER}`);
  addCommands(program, cli);
  return program;
}

/** Runs the CLI and returns the exit code; the bin sets it. Never calls process.exit. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const cli = new CliRun(io);
  try {
    await createProgram(io, cli).parseAsync(argv);
    return cli.exitCode;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode !== 0 && wantsJson(argv)) {
      // commander refused the command line before any command ran: the document still comes.
      const message = error.message.replace(/^error: /, '');
      io.stdout.write(jsonDocument({ ok: false, errors: [{ source: 'config', code: 'USAGE', message }] }));
    }
    return exitCodeOf(error, cli.log);
  }
}

/** `--format json` (or `--format=json`) on the command line. */
const wantsJson = (argv: readonly string[]) => argv.some((arg, i) => arg === '--format=json' || (arg === '--format' && argv[i + 1] === 'json'));

function exitCodeOf(error: unknown, log: Logger): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (or the help).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof OccsError) {
    log.error(withHint(error), { code: error.code, detail: error.detail, ...stackField(error, log) });
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
