import { Command, CommanderError } from 'commander';
import type { CommandContext } from './commands/context.js';
import { withEnvironment, type EnvironmentFlags } from './config/environment.js';
import { addOptions } from './config/options.js';
import type { CommandName } from './config/setting-entry.js';
import type { Flags, Settings } from './config/types.js';
import { errorSource, ExitCode, OccsError, withHint } from './errors.js';
import { processIo, type Io } from './io.js';
import { explainOtherCommandsOptions } from './other-commands-option.js';
import { createLogger, type Logger } from './log.js';
import { jsonDocument } from './commands/json-document.js';
import { examples, GROUPED_HELP, HELP_AFTER, PROGRAM_GROUP, PROGRAM_HELP_AFTER, RELOAD_HELP_AFTER, WATCH_HELP_AFTER } from './help.js';
import { packageVersion } from './paths.js';
import { Redactor, shortSecretNotices, withRedactor } from './util/redact.js';
import { holdHangups } from './watch/early-signals.js';

export { EXAMPLES } from './help.js';

/** The report format a command's flags ask for. */
const reportFormat = (flags: Flags): 'text' | 'json' => (flags.format === 'json' ? 'json' : 'text');

/** A command's function: an exit code when it has one of its own (watch), else success. */
type CommandFunction<O> = (settings: Readonly<Settings>, ctx: CommandContext, options: O) => Promise<number | void>;

/** One run of the CLI: the redactor, the logger (remade once the settings are known) and the exit code. */
class CliRun {
  readonly redactor = new Redactor();
  exitCode: number = ExitCode.ok;
  log: Logger;

  constructor(private readonly io: Io) {
    for (const name of ['OCCS_API_TOKEN', 'KV_PASSWORD', 'OCCS_LB_TOKEN', 'OCCS_LB_KV_PASSWORD', 'OCCS_LB_STATS_PASSWORD']) this.redactor.add(io.env[name]);
    this.log = createLogger({ stream: io.stderr, format: 'text', verbosity: 'normal', redactor: this.redactor });
  }

  /**
   * Loads settings, makes a logger that matches them, then runs the lazily loaded command. With
   * --format json, a failure that left stdout empty still gets one JSON document there.
   */
  async run<O extends { format?: string }>(command: Command, load: () => Promise<CommandFunction<O>>, optionsOf: (flags: Flags) => NoInfer<O>): Promise<void> {
    const { io, redactor } = this;
    let wrote = false;
    const out: Io = { ...io, stdout: { write: (chunk: string) => ((wrote = true), io.stdout.write(chunk)) } as NodeJS.WritableStream };
    const given = command.optsWithGlobals<Flags>();
    let format = (given as { format?: string }).format;
    try {
      // Flags win; every option not given as one may come from its OCCS_LB_ variable.
      const { flags, origins, notices } = withEnvironment(
        given,
        io.env,
        (name) => command.getOptionValueSourceWithGlobals(name) === 'cli',
        command.name() as CommandName,
      );
      const options = optionsOf(flags);
      format = options.format;
      // Every quote of a store or HAProxy in this run masks the run's secrets, the short ones too.
      const code = await withRedactor(redactor, () => this.runWithSettings(command, load, options, out, { flags, origins, notices }));
      if (typeof code === 'number') this.exitCode = code;
    } catch (error) {
      if (format === 'json' && !wrote && error instanceof OccsError) {
        const failure = { source: errorSource(error), code: error.code, message: error.message, hint: error.hint };
        io.stdout.write(jsonDocument(redactor.deep({ ok: false, errors: [failure] })));
      }
      throw error;
    }
  }

  private async runWithSettings<O>(
    command: Command,
    load: () => Promise<CommandFunction<O>>,
    options: O,
    out: Io,
    { flags, origins, notices }: EnvironmentFlags,
  ): Promise<number | void> {
    const { io, redactor } = this;
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
    // SIGHUP reads the settings again, from the same flags and environment: the config file may have changed.
    const reloadSettings = async () => {
      const loaded = await loadSettings(flags, io, origins);
      const secrets = { 'the token': loaded.token, 'the etcd password': loaded.kvPassword, 'the stats password': loaded.vars.statsPassword };
      for (const secret of Object.values(secrets)) redactor.add(secret);
      // Said where the command says the other notices: once, and in validate's report too.
      return Object.freeze({ ...loaded, notices: [...notices, ...loaded.notices, ...shortSecretNotices(secrets)] });
    };
    const settings = await reloadSettings();
    this.log = createLogger({ stream: io.stderr, format: settings.logFormat ?? defaultFormat, verbosity: settings.verbosity, redactor });
    return (await load())(settings, { io: out, log: this.log, redact: (value) => redactor.deep(value), reloadSettings }, options);
  }
}

/** A command with its options from the settings table and the shared help epilog; the caller adds the action. */
function addCommand(program: Command, name: CommandName, usage: string, description: string, helpAfter = HELP_AFTER): Command {
  const command = addOptions(program.command(usage).description(description), name);
  return explainOtherCommandsOptions(command, name)
    .addHelpText('after', `${examples(name)}${helpAfter}`)
    .showHelpAfterError(`(occs-lb ${name} --help lists the options it takes)`);
}

function addCommands(program: Command, cli: CliRun): void {
  // Each command's own options come from the flags once the environment is added (--check is false only when asked).
  addCommand(program, 'render', 'render', 'read the store once and print the config, or check and install it with --out').action(
    (_: unknown, command: Command) =>
      cli.run<{ check: boolean; format?: string }>(
        command,
        async () => (await import('./commands/render.js')).render,
        (flags) => ({ check: flags.check !== false }),
      ),
  );

  addCommand(program, 'validate', 'validate [file]', 'render (or read FILE) and check it: template, key/value entries, --min-servers, haproxy -c').action(
    (file: string | undefined, _: unknown, command: Command) =>
      cli.run(
        command,
        async () => (await import('./commands/validate.js')).validate,
        (flags) => ({ file, format: reportFormat(flags), allowWarnings: Boolean(flags.allowWarnings), haproxy: flags.haproxy !== false }),
      ),
  );

  addCommand(program, 'reload', 'reload', 'haproxy -c the installed config, then reload the running HAProxy and verify it', RELOAD_HELP_AFTER).action(
    (_: unknown, command: Command) =>
      cli.run(
        command,
        async () => (await import('./commands/reload.js')).reload,
        (flags) => ({ format: reportFormat(flags), check: flags.check !== false }),
      ),
  );

  addCommand(
    program,
    'watch',
    'watch',
    'render → check → install → reload now and on every store change; optionally run HAProxy (--exec)',
    WATCH_HELP_AFTER,
  ).action((_: unknown, command: Command) =>
    cli.run<{ once: boolean; format?: string }>(
      command,
      async () => (await import('./commands/watch.js')).watch,
      (flags) => ({ once: Boolean(flags.once) }),
    ),
  );
}

function createProgram(io: Io, cli: CliRun): Command {
  const program = new Command('occs-lb')
    .description("Keeps HAProxy's backend servers in step with a key/value store (OCCS, Consul, etcd or a file).")
    // The options commander adds (--version, and --help, which the commands share) go with the program's own.
    .optionsGroup(PROGRAM_GROUP)
    .helpOption(true)
    .configureHelp(GROUPED_HELP)
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(cli.redactor.apply(text)),
    })
    .exitOverride();
  addOptions(program, 'program')
    .version(packageVersion(), '-V, --version')
    .addHelpText('after', `${examples('program')}${PROGRAM_HELP_AFTER}`);
  addCommands(program, cli);
  return program;
}

/** Runs the CLI and returns the exit code; the bin sets it. Never calls process.exit. */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  if (argv.slice(2).includes('watch')) holdHangups();
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
    return exitCodeOf(error, cli.log, io);
  }
}

/** `--format json` (or `--format=json`) on the command line. */
const wantsJson = (argv: readonly string[]) => argv.some((arg, i) => arg === '--format=json' || (arg === '--format' && argv[i + 1] === 'json'));

function exitCodeOf(error: unknown, log: Logger, io: Io): number {
  if (error instanceof CommanderError) {
    // commander has already printed its message (or the help).
    return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
  }
  if (error instanceof OccsError) {
    // Told in the report on stdout, which reaches the same reader (a terminal, `2>&1`): once is enough.
    if (error.inReport && io.sameOutput && log.verbosity !== 'verbose') return error.exitCode;
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
