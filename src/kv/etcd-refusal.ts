import { kvError, type OccsError } from '../errors.js';
import { bodyKind, bodySnippet, storeText, type StoreErrors } from './store-errors.js';

/** What etcd's JSON gateway says when it refuses a request. */
export interface EtcdErrorBody {
  error?: string;
  message?: string;
  code?: number;
}

/** What an etcd refusal's message needs to know: never more than the store's name and the user. */
export interface RefusalContext {
  description: string;
  user?: string;
  password?: string;
  errors: StoreErrors;
}

/**
 * An etcd refusal of a request to `path` as the user should read it: permission denied, bad
 * credentials, a server that is not etcd's gateway at all (see `notFromTheGateway`; its page is
 * never shown), or what it said.
 */
export function etcdRefusal(ctx: RefusalContext, label: string, path: string, status: number, failure: EtcdErrorBody, text: string): OccsError {
  const said = failure.message ?? failure.error;
  const message = typeof said === 'string' ? storeText(said, [ctx.password]) : '';
  if (failure.code === 7 || /permission denied/.test(message)) {
    return kvError(
      'KV_PERMISSION_DENIED',
      `key/value store at ${ctx.description} refused to let ${ctx.user ?? 'us'} read "${label}" (permission denied, unauthorised)`,
      {
        hint: "grant the user's role read access to the prefix (with or without a leading slash)",
      },
    );
  }
  if (/authentication is not enabled/.test(message)) {
    return kvError('KV_ERROR', `key/value store at ${ctx.description} does not use authentication, but a user was given`, {
      hint: 'drop --kv-user (or KV_USER)',
    });
  }
  if (status === 401 || status === 403 || failure.code === 16 || /authentication failed|user name is empty/.test(message)) {
    const hint = ctx.user
      ? "check --kv-user and --kv-password (or KV_USER, KV_PASSWORD/KV_PASSWORD_FILE) and the user's role"
      : 'this etcd wants a user: set --kv-user and --kv-password (or KV_USER, KV_PASSWORD/KV_PASSWORD_FILE)';
    return ctx.errors.unauthorised(label, `refused the request (${message.replace(/^etcdserver: /, '') || `HTTP ${status}`})`, hint);
  }
  const answered = notFromTheGateway(status, text);
  if (answered) return notEtcd(ctx.errors, label, `${answered} to ${path}`);
  return ctx.errors.failed(label, `answered HTTP ${status}${bodySnippet(text, [ctx.password])}`);
}

/** Statuses etcd's gateway never answers to the paths we ask (it knows them all, and takes POST). */
const NEVER_FROM_ETCD = new Set([404, 405, 501]);

/**
 * How an answer shows it cannot come from etcd's JSON gateway ("501", "200 with an HTML page"),
 * or undefined when it may: the gateway answers every request with JSON, an error with its gRPC
 * `code` and `message` (`error` in older versions), anything else with a `header`.
 */
export function notFromTheGateway(status: number, text: string): string | undefined {
  if (NEVER_FROM_ETCD.has(status)) return String(status);
  const kind = bodyKind(text);
  if (kind) return `${status} with ${kind}`;
  const json = parseError(text) as Record<string, unknown>;
  if (typeof json !== 'object' || Array.isArray(json)) return `${status} with JSON that is not etcd's`;
  if (status === 200) return typeof json.header === 'object' && json.header !== null ? undefined : "200 without etcd's header";
  return 'code' in json || 'message' in json || 'error' in json ? undefined : `${status} with JSON that is not an etcd error`;
}

/** The error of a server that answers, but not as etcd's gateway does; `answered`: how ("501 to /v3/kv/range"). */
export function notEtcd(errors: StoreErrors, label: string, answered: string): OccsError {
  return errors.wrongKind(
    label,
    `does not look like etcd's v3 JSON gateway (it answered ${answered})`,
    "if it is Consul or OCCS, use consul:// or http://; else check the host and port: etcd's client port is usually 2379, and its JSON gateway answers under /v3/",
  );
}

export function parseError(text: string): EtcdErrorBody {
  try {
    return (JSON.parse(text) as EtcdErrorBody) ?? {};
  } catch {
    return {};
  }
}

/** The start of an answer that streams (an error body): enough for a message, never all of it. */
export async function readAll(lines: AsyncIterable<string>, limit = 64 * 1024): Promise<string> {
  let text = '';
  for await (const line of lines) {
    text += line;
    if (text.length >= limit) break; // ends the stream too
  }
  return text.slice(0, limit);
}
