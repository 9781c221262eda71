import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { parseDuration } from '../util/duration.js';
import { parsePort } from '../values/server.js';
import { CERT_NAME, certNameReason } from '../tls/bundle.js';
import { invalid, pick, type Layers } from './layers.js';
import type { Flags, TemplateVars, TlsSettings } from './types.js';

const DEFAULT_WARN_MS = 14 * 86_400_000;

/**
 * Where HTTPS writes its files: beside the config, named after it (`haproxy.cfg` →
 * `haproxy.crt-list`, the directory `haproxy.certs/`, `haproxy.tls.map`, `haproxy.hsts.map`).
 * Every path is a word of the runtime API, so only plain characters are taken.
 */
export function tlsPaths(config: string): Pick<TlsSettings, 'crtList' | 'certsDir' | 'maps'> {
  const stem = basename(config).replace(/\.cfg$/, '');
  const at = (name: string) => join(dirname(config), `${stem}.${name}`);
  const paths = { crtList: at('crt-list'), certsDir: at('certs'), maps: { policy: at('tls.map'), hsts: at('hsts.map') } };
  if (!/^\/[A-Za-z0-9._/-]+$/.test(paths.crtList)) {
    throw usageError(`HTTPS writes its certificates beside the config, at ${paths.certsDir}, a path HAProxy's runtime API cannot name`, {
      hint: 'install the config at a path of letters, digits, ".", "_", "-" and "/" (--out or --haproxy-config)',
    });
  }
  return paths;
}

/** HTTPS's settings, or undefined when no --https-port asks for it (its other settings then are refused: they would do nothing). */
export function resolveTls(flags: Flags, from: Layers, vars: TemplateVars, config: string): TlsSettings | undefined {
  const port = pick<string | number>(from.flag('https-port', flags.httpsPort), from.file('httpsPort'));
  const certDir = pick(from.flag('cert-dir', flags.certDir), from.file('certDir'));
  const defaultCert = pick(from.flag('default-cert', flags.defaultCert), from.file('defaultCert'));
  const warn = pick<string | number>(from.flag('cert-warn', flags.certWarn), from.file('certWarn'));
  if (!port) {
    const stray = certDir ?? defaultCert ?? warn;
    if (stray) throw usageError(`${stray.from} is a setting of HTTPS`, { hint: 'serve HTTPS with --https-port PORT (or the config file\'s "httpsPort")' });
    return undefined;
  }
  const parsed = parsePort(String(port.value));
  if (!parsed.ok) throw invalid(port.from, parsed.reason);
  for (const [other, what] of [
    [vars.frontendPort, 'the frontend'],
    [vars.statsPort, 'the stats listener'],
  ] as const) {
    if (parsed.value === other) throw usageError(`HTTPS and ${what} both use port ${other}`, { hint: 'give them different ports' });
  }
  if (defaultCert && !CERT_NAME.test(defaultCert.value)) throw invalid(defaultCert.from, `"${defaultCert.value}" ${certNameReason(defaultCert.value)}`);
  const warnMs = warn ? parseDuration(warn.value) : DEFAULT_WARN_MS;
  if (warnMs === undefined) throw invalid(warn!.from, `"${warn!.value}" is not a duration such as 14d, 336h or 30d`);
  return {
    port: parsed.value,
    certDir: certDir && resolve(certDir.base, certDir.value),
    defaultCert: defaultCert?.value,
    warnMs,
    ...tlsPaths(config),
  };
}
