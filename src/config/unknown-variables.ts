import { nearest } from '../util/nearest.js';

/**
 * OCCS_LB_ variables no setting reads: a misspelt name would otherwise be ignored without a
 * word. Only a warning: a variable meant for a newer occs-lb, or for another tool, must not stop a run.
 */

const PREFIX = 'OCCS_LB_';

/**
 * Names that are no setting of ours yet are no mistake: the benchmarks' own (test/bench), and the
 * variables Kubernetes sets for a Service named occs-lb-… (docker links: `_SERVICE_HOST`,
 * `_SERVICE_PORT_HTTP`, `_PORT_1936_TCP_ADDR`; a plain `_PORT` holds tcp://…, told apart by its value).
 */
const NOT_OURS = /^OCCS_LB_(BENCH_.*|.*_SERVICE_(HOST|PORT)(_[A-Z0-9_]+)?|.*_PORT_\d+_(TCP|UDP|SCTP)(_[A-Z]+)?)$/;

export interface KnownVariables {
  /** Every OCCS_LB_ variable some setting reads, whichever command reads it. */
  readonly variables: readonly string[];
  /** The variables of `--no-x` switches (`OCCS_LB_CHECK` of `--no-check`): OCCS_LB_NO_CHECK is a guess at one. */
  readonly switches: readonly string[];
}

/** A warning for each OCCS_LB_ variable set (not empty) that no setting reads, naming the one it likely meant. */
export function unknownVariableNotices(env: NodeJS.ProcessEnv, known: KnownVariables, serviceLink: (text: string) => boolean): string[] {
  const notices: string[] = [];
  for (const [variable, value] of Object.entries(env)) {
    const text = value?.trim();
    if (!variable.startsWith(PREFIX) || !text || known.variables.includes(variable) || NOT_OURS.test(variable) || serviceLink(text)) continue;
    notices.push(`environment ${variable} is not a setting of occs-lb: it is ignored (${guess(variable, known)})`);
  }
  return notices;
}

function guess(variable: string, known: KnownVariables): string {
  const negated = variable.replace(/^OCCS_LB_NO_/, PREFIX);
  if (negated !== variable && known.switches.includes(negated)) {
    const flag = `--no-${negated.slice(PREFIX.length).toLowerCase().replace(/_/g, '-')}`;
    return `for ${flag}, use ${negated}=false`;
  }
  const near = nearest(
    variable.slice(PREFIX.length),
    known.variables.filter((v) => v.startsWith(PREFIX)).map((v) => v.slice(PREFIX.length)),
  );
  return near ? `did you mean ${PREFIX}${near}?` : 'every option is OCCS_LB_<OPTION>: occs-lb --help';
}
