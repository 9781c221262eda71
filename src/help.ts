import { Help, type Command, type HelpConfiguration, type Option } from 'commander';
import { HELP_GROUPS, type CommandName } from './config/setting-entry.js';

/** The heading of the program's own options, the help option's too. */
export const PROGRAM_GROUP = HELP_GROUPS.program;

/**
 * A command's page lists the program's options among its own, under their group's heading
 * before --help: commander would list them apart ("Global Options:"), away from --help.
 */
export const GROUPED_HELP: HelpConfiguration = {
  visibleOptions(this: Help, command: Command): Option[] {
    const own = Help.prototype.visibleOptions.call(this, command);
    const program = command.parent?.options.filter((option) => !option.hidden) ?? [];
    const help = own.findIndex((option) => option.long === '--help');
    return help < 0 ? [...own, ...program] : [...own.slice(0, help), ...program, ...own.slice(help)];
  },
};

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

export const examples = (scope: CommandName | 'program') => `\nExamples:\n${EXAMPLES[scope].map((line) => `  ${line}`).join('\n')}\n`;

export const EXIT_CODES = `
Exit codes:
  0 success   1 unexpected failure   2 usage or configuration error
  3 key/value store unreachable or unauthorised   4 template error
  5 rendered config rejected   6 reload failed`;

/** Where the options' values may come from besides flags: on the top-level page only. */
const ENVIRONMENT = `
Environment: every option also as OCCS_LB_<OPTION> (--min-servers 2: OCCS_LB_MIN_SERVERS=2;
switches take true or false; a --no-x switch is OCCS_LB_X=false: --no-check is OCCS_LB_CHECK=false),
and the old confd image's variables:
  KV_IP, KV_PORT          key/value endpoint when --kv is absent (http://KV_IP:KV_PORT)
  OCCS_API_TOKEN          token, sent as "Authorization: Bearer" and "X-Consul-Token"
  OCCS_API_TOKEN_FILE     file holding the token (preferred over the variable in containers)
  OCCS_BACKEND_KEY        key prefix of the backends, e.g. apps/myapp/containers
  OCCS_LB_STATS_USER, OCCS_LB_STATS_PASSWORD(_FILE)   stats page credentials
  KV_USER, KV_PASSWORD, KV_PASSWORD_FILE              etcd user and password

Precedence: flags > environment > config file (OCCS_LB_CONFIG, or occs-lb.config.*, .occs-lbrc*,
package.json#occs-lb in the current directory, then in /etc/occs-lb/) > defaults.`;

/** A command's page points at the top-level page for the environment, in one line. */
export const ENVIRONMENT_POINTER = `
Environment variables (OCCS_LB_<OPTION> and the old image's) and precedence: occs-lb --help`;

const STORES = `
Key/value sources (--kv):
  http(s)://HOST:PORT, occs://HOST:PORT (port 9109), consul://HOST:PORT (port 8500),
  etcd://HOST:PORT, etcds://HOST:PORT (etcd v3, port 2379), file:PATH`;

/** The top-level page's epilog, after its examples. */
export const PROGRAM_HELP_AFTER = `${ENVIRONMENT}
${STORES}
${EXIT_CODES}`;

/** The epilog of the commands that read the store (render, validate), after their examples. */
export const HELP_AFTER = `${ENVIRONMENT_POINTER}
${STORES}
${EXIT_CODES}`;

/** Reload's epilog: it reads no store. */
export const RELOAD_HELP_AFTER = `${ENVIRONMENT_POINTER}
${EXIT_CODES}`;

/** The watch page's epilog: the pointer and stores, then signals and probes. */
export const WATCH_HELP_AFTER = `${HELP_AFTER}

Signals: SIGTERM/SIGINT stop watching and HAProxy (watch exits with its status); after SIGTERM,
--shutdown-delay DURATION keeps serving for DURATION before stopping, /readyz failing meanwhile,
so a load balancer in front stops sending first. SIGHUP re-reads the config file, the templates
and the store, re-renders and reloads. Logs are JSON lines when stderr is not a terminal.

Probes (--listen): /livez for a liveness probe (fails only when watch is wedged), /readyz for a
readiness probe (HAProxy serves a checked config; a store outage does not fail it), /healthz
for people and alerts (every problem; ?format=json), /metrics for Prometheus.`;
