import { parseServerState, parseWeight, type ServerState } from '../values/routes.js';
import { nameTooLong } from '../values/server.js';
import { holdsPrivateKey, PRIVATE_KEY_ELSEWHERE } from '../values/shown.js';

interface Pair {
  key: string;
  value: string;
}

/** Why a name in a control key is too long (it could name no app or server), or undefined. */
function overlong(what: 'app' | 'server', name: string | undefined): string | undefined {
  const long = name === undefined ? undefined : nameTooLong(name);
  return long && `${what} name ${long}`;
}

export interface Control {
  /** `app/server` → weight or state. */
  weights: Map<string, number>;
  states: Map<string, ServerState>;
  /** `routes/<app>` entries, in key order. */
  routes: Array<{ key: string; app: string; value: string }>;
  /** `tls/<app>` and `certs/<name>` entries, in key order. */
  tls: Array<{ key: string; app: string; value: string }>;
  certs: Array<{ key: string; name: string; value: string }>;
}

/** The control prefix's entries: `routes/<app>`, `weights/<app>/<server>`, `state/<app>/<server>`; anything else is left out, named. */
export function readControl(pairs: readonly Pair[], control: string, skip: (key: string, reason: string) => void): Control {
  const out: Control = { weights: new Map(), states: new Map(), routes: [], tls: [], certs: [] };
  const start = `/${control}/`;
  const shape = (key: string, want: string) => skip(key, `expected ${control}/${want}`);
  for (const { key, value } of pairs) {
    if (!key.startsWith(start)) continue;
    // Read by index: taken apart as an array, each word costs an iterator step (watch runs without an optimizing compiler, src/util/memory.ts).
    const words = key.slice(start.length).split('/');
    const kind = words[0]!;
    const app = words[1];
    const server = words[2];
    const long = (kind === 'routes' || kind === 'weights' || kind === 'state' || kind === 'tls') && (overlong('app', app) ?? overlong('server', server));
    // A bundle stored under a route or a weight: not a word of its key may become a route, nor be quoted.
    if (kind !== 'certs' && holdsPrivateKey(value)) skip(key, PRIVATE_KEY_ELSEWHERE);
    else if (long) skip(key, long);
    else if (kind === 'certs') {
      if (!app || server !== undefined) shape(key, 'certs/<name>');
      else out.certs.push({ key, name: app, value });
    } else if (kind === 'tls') {
      if (!app || server !== undefined) shape(key, 'tls/<app>');
      else out.tls.push({ key, app, value });
    } else if (kind === 'routes') {
      if (!app || server !== undefined) shape(key, 'routes/<app>');
      else out.routes.push({ key, app, value });
    } else if (kind === 'weights' || kind === 'state') {
      if (!app || !server || words.length > 3) {
        shape(key, `${kind}/<app>/<server>`);
        continue;
      }
      const parsed = kind === 'weights' ? parseWeight(value) : parseServerState(value);
      if (!parsed.ok) skip(key, parsed.reason);
      else if (kind === 'weights') out.weights.set(`${app}/${server}`, parsed.value as number);
      else out.states.set(`${app}/${server}`, parsed.value as ServerState);
    } else skip(key, `is not a route, weight, state, TLS policy or certificate: expected ${control}/routes/, weights/, state/, tls/ or certs/`);
  }
  return out;
}
