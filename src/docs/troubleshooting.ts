import { ERROR_CODES, ExitCode, type ErrorPolicy } from '../errors.js';

/** What the troubleshooting page says of one error code: what it means, its usual cause, what to do. */
interface ErrorDoc {
  means: string;
  cause: string;
  fix: string;
}

type Code = keyof typeof ERROR_CODES;

/**
 * Every error code of src/errors.ts, explained for an operator. Typed by the error table: a code
 * added there without its entry here does not compile, so docs/troubleshooting.md (made from
 * this) never misses one.
 */
const DOCS: Record<Code, ErrorDoc> = {
  USAGE: {
    means: 'a flag, an environment variable or the config file is wrong, or two settings contradict each other',
    cause: 'a typo in an option or a config-file key, a value of the wrong kind (a port, a duration), a setting that belongs to a mode not turned on',
    fix: 'read the message: it names the setting and where it came from (flag, variable or file and key); `occs-lb COMMAND --help` lists what each command takes',
  },
  HAPROXY_UNRUNNABLE: {
    means: 'the haproxy executable cannot be run to check or start a config',
    cause: 'HAProxy is not installed, or `--haproxy` names a path that is not an executable',
    fix: 'install HAProxy (Debian: `apt-get install -y haproxy`) or point `--haproxy` at it; `validate --no-haproxy` skips the check',
  },
  INSTALL_READ_ONLY: {
    means: 'the destination of the config (or a file beside it) is on a read-only file system',
    cause: 'a container with a read-only root file system and no writable volume at `--out`',
    fix: 'mount a writable volume (an emptyDir in Kubernetes) where the config goes; nothing installed was changed',
  },
  INSTALL_DENIED: {
    means: 'occs-lb may not write the destination or its directory',
    cause: 'running as a user that does not own the directory of `--out`',
    fix: 'give the user write access to the directory (occs-lb writes a temp file beside the config and renames it), or choose another `--out`',
  },
  INSTALL_NO_DIRECTORY: {
    means: "the destination's directory does not exist",
    cause: 'a typo in `--out`, or a volume not mounted',
    fix: 'create the directory or fix the path',
  },
  INSTALL_NOT_A_FILE: {
    means: 'the destination is a directory, a symlink loop or not a regular file',
    cause: '`--out` names a directory',
    fix: 'give the path of the file itself',
  },
  INSTALL_NO_SPACE: {
    means: 'the disk (or its quota) is full',
    cause: 'a full volume, or an emptyDir at its sizeLimit',
    fix: 'free space; the installed files stay as they were meanwhile',
  },
  INSTALL_FAILED: {
    means: 'writing or renaming a file failed for another reason (an I/O error)',
    cause: 'a failing disk or file system',
    fix: 'read the system error in the message',
  },
  KV_ERROR: {
    means: 'the store answered, but with an error or an answer occs-lb cannot use',
    cause:
      "a 5xx from Consul/OCCS, an etcd error, malformed JSON, a URL that points at something else than the store (a web server, a proxy's own 404: the message says it does not look like Consul's key/value API or etcd's JSON gateway)",
    fix: "check `--kv` (scheme, host, port) against the store: Consul's HTTP port is usually 8500, etcd's client port 2379; the message quotes what a store answered, never a web page. HAProxy keeps the last good config, and watch retries with backoff",
  },
  KV_UNREACHABLE: {
    means: 'no connection could be made to the store (or to any endpoint of a cluster)',
    cause: 'the store is down, a wrong host or port, DNS, a network policy',
    fix: 'check that the store runs and `--kv`/`KV_IP`/`KV_PORT` point at it; HAProxy keeps serving the last good config meanwhile',
  },
  KV_TIMEOUT: {
    means: 'the store did not answer within `--kv-timeout`',
    cause: 'an overloaded or partitioned store, a member without quorum',
    fix: 'check the store; raise `--kv-timeout` only if it is slow by nature; with several endpoints, watch moves to the next at once',
  },
  KV_TLS: {
    means: 'the TLS handshake with the store failed',
    cause: 'a certificate signed by a CA occs-lb does not trust, a name mismatch, a client certificate required',
    fix: 'give the CA with `--kv-ca`, a client certificate with `--kv-cert`/`--kv-key`; `--insecure` only to try',
  },
  KV_UNAUTHORISED: {
    means: 'the store refused the credentials (401)',
    cause: 'a missing, expired or wrong token (`OCCS_API_TOKEN`, `--token-file`), or a wrong etcd user or password',
    fix: 'check the token or password; occs-lb never prints it',
  },
  KV_PERMISSION_DENIED: {
    means: 'the credentials are valid but may not read the prefix (403)',
    cause: 'an ACL or etcd role without read access to the prefixes',
    fix: 'grant read access to every prefix occs-lb reads (the message names it)',
  },
  KV_TOO_LARGE: {
    means: 'the store answered more than `--kv-max-size` (16 MiB by default)',
    cause: 'a prefix much wider than meant (`--prefix apps` instead of `apps/myapp/containers`), or a misbehaving store',
    fix: 'narrow the prefix; raise `--kv-max-size` only if the store really holds that much',
  },
  KV_FILE_UNREADABLE: {
    means: 'the `file:` store does not exist or cannot be read',
    cause: 'a wrong path in `--kv file:PATH`, a ConfigMap not mounted',
    fix: 'fix the path or mount the file',
  },
  KV_FILE_MALFORMED: {
    means: 'the `file:` store is not `key=value` lines, a JSON object or a `consul kv export` array',
    cause: 'a line without `=`, invalid JSON, a value that is not a string',
    fix: 'the message names the line; fix it',
  },
  KV_FILE_WATCH: {
    means: "the `file:` store's directory cannot be watched for changes",
    cause: 'too many inotify watches, a file system without events',
    fix: 'raise `fs.inotify.max_user_watches`; the file is still read again every 30 s',
  },
  TEMPLATE: {
    means: 'the template does not compile, or throws while rendering',
    cause: 'an EJS syntax error, a helper called with the wrong arguments, a variable that is not there',
    fix: 'the message names the template file and line; `occs-lb validate` shows it without touching HAProxy',
  },
  CONFIG_REJECTED: {
    means: '`haproxy -c` rejected the rendered config (or `validate` found errors)',
    cause: 'a template of your own writing a directive HAProxy does not know, HAProxy warnings (which fail the check), a certificate HAProxy refuses',
    fix: 'the message quotes HAProxy and the config lines around the error; the installed config stays as it was',
  },
  ENTRIES_REJECTED: {
    means: '`--strict` refused the store answer because entries in it are invalid',
    cause: 'a server entry that is not `ip:port`, a bad route, weight, state, TLS policy or certificate',
    fix: 'fix or delete the entries the message lists, or drop `--strict` to skip them with a warning',
  },
  MIN_SERVERS: {
    means: 'the answer would leave a backend with fewer servers than `--min-servers`',
    cause: 'a deploy that removed too much, a store that lost keys',
    fix: 'HAProxy keeps the installed config until the store holds enough servers again; lower `--min-servers` if the size is meant',
  },
  EVERY_SERVER_GONE: {
    means: 'watch held an answer that leaves no server in any backend while HAProxy serves some',
    cause: 'a store restored empty, a prefix that lost every key',
    fix: 'HAProxy keeps its servers until the store holds some again; `--allow-empty` if emptying everything is meant',
  },
  VALUE_REFUSED: {
    means: 'a template tried to print a value that could break out of its line (a newline, a control character)',
    cause: 'a store value that is not one config word, printed by a template of your own',
    fix: 'print validated values only (`servers()` gives checked ones); never print store data with the raw tag',
  },
  HAPROXY_EXITED: {
    means: 'the HAProxy that watch supervises (`--exec`) exited',
    cause: 'it crashed, was killed, or could not bind its ports',
    fix: "read HAProxy's own lines in the log just before; watch exits with HAProxy's status so the container restarts",
  },
  HAPROXY_NOT_RUNNING: {
    means: 'there is no HAProxy to reload: its master socket or pid file names none',
    cause: 'HAProxy not started yet, a wrong `--master-socket` or `--pid-file`',
    fix: 'start HAProxy, or point the reload option at the running one',
  },
  STALE_PID_FILE: {
    means: 'the pid file names no running HAProxy',
    cause: 'HAProxy exited and left its pid file',
    fix: 'start HAProxy again, or remove the stale pid file',
  },
  START_TIMEOUT: {
    means: 'HAProxy did not come up with a running worker in time',
    cause: 'a slow start (thousands of servers resolved by name), ports already in use',
    fix: "read HAProxy's lines in the log; raise `--reload-timeout` for a large config",
  },
  MASTER_SOCKET: {
    means: "HAProxy's master socket answered nothing usable",
    cause: 'a socket that belongs to something else, a master that is stuck',
    fix: 'check that `--master-socket` names the `-S` socket of the running master',
  },
  RELOAD_TIMEOUT: {
    means: 'a reload was not confirmed by a new worker within `--reload-timeout`',
    cause: 'a slow reload of a very large config, an overloaded machine',
    fix: 'raise `--reload-timeout` for a very large config',
  },
  RELOAD_FAILED: {
    means: 'HAProxy did not take the reload',
    cause: 'HAProxy refused the new config at load time (something `haproxy -c` cannot see, such as a port in use)',
    fix: "read HAProxy's lines in the log; the previous files are put back, and the old worker keeps serving",
  },
  RELOAD_REJECTED: {
    means: 'the master kept the old worker: the reloaded config failed to load',
    cause: 'as for RELOAD_FAILED; HAProxy counts it as a failed reload',
    fix: 'as for RELOAD_FAILED',
  },
  RELOAD_NO_WORKER: {
    means: 'after a reload, HAProxy had no current worker',
    cause: 'a worker that died at start',
    fix: "read HAProxy's lines in the log; the next change reloads again",
  },
  RELOAD_NOT_PERMITTED: {
    means: 'occs-lb may not signal the HAProxy master',
    cause: 'HAProxy runs as another user than occs-lb',
    fix: 'run both as the same user, or reload through the master socket',
  },
  RELOAD_COMMAND_FAILED: {
    means: 'the `--reload-cmd` command failed',
    cause: 'the command is wrong, or the service manager refused it',
    fix: 'the message quotes its status and output; run it by hand to see',
  },
  RUNTIME_REFUSED: {
    means: 'HAProxy refused a runtime API command, or its state afterwards was not what was asked',
    cause: 'a change the runtime API cannot make (a bundle over 16 KiB, a server HAProxy still holds connections on), an operator changing HAProxy meanwhile',
    fix: 'nothing: the same change goes by a verified reload at once; the log line says why the runtime API did not take it',
  },
  UNEXPECTED: {
    means: 'something nobody foresaw failed: a bug, or the system failing under occs-lb',
    cause: 'unknown',
    fix: 'run again with `--verbose` for the stack trace, and report it with the log',
  },
};

const EXIT_NAMES = new Map<number, string>(Object.entries(ExitCode).map(([name, exit]) => [exit, name]));

/** docs/troubleshooting.md: every error code by exit code, what it means, its usual cause and what to do. */
export function troubleshootingMarkdown(): string {
  const out = [
    '# Troubleshooting',
    '',
    'Every error occs-lb reports has a code (in `--log-format json` logs, the field `code`) and ends a one-shot',
    'command with an exit code. Here is each one: what it means, the usual cause, and what to do. In `watch`,',
    'none of them stops the watch but `HAPROXY_EXITED`: HAProxy keeps serving what it has, and the next change',
    'tries again. Generated from `src/docs/troubleshooting.ts`, which the error table types: a code without its',
    'entry does not compile.',
  ];
  for (const [exit, name] of EXIT_NAMES) {
    const codes = (Object.entries(ERROR_CODES) as Array<[Code, ErrorPolicy]>).filter(([, p]) => p.exit === exit);
    if (codes.length === 0) continue;
    out.push('', `## Exit ${exit}: ${name}`);
    for (const [code, policy] of codes) {
      const d = DOCS[code];
      out.push('', `### ${code}`, '', `- **Means:** ${d.means}.`, `- **Usual cause:** ${d.cause}.`, `- **What to do:** ${d.fix}.`);
      if (policy.retry) out.push('- **In watch:** the same change is tried again, with backoff, until it goes through.');
      if (policy.apart) out.push('- **In watch:** HAProxy may hold part of the change, so the next change reloads it with the installed files.');
    }
  }
  return `${out.join('\n')}\n`;
}
