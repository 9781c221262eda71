import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { fileConfigSchema } from '../../src/config/schema.js';
import { parseDuration } from '../../src/util/duration.js';
import { ROOT } from '../support/cli.js';
import { validateManifest } from '../support/kube-schema.js';
import { restrictedViolations } from '../support/pod-security.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests parsed from YAML */
type Doc = Record<string, any>;

const DIR = join(ROOT, 'examples/kubernetes');

/** Every document of every manifest, parsed as kubectl parses them (YAML 1.1, where `0440` is octal). */
function loadManifests(): Array<{ file: string; doc: Doc }> {
  const manifests: Array<{ file: string; doc: Doc }> = [];
  for (const file of readdirSync(DIR).filter((name) => /\.ya?ml$/.test(name))) {
    for (const document of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'), { version: '1.1' })) {
      expect([...document.errors, ...document.warnings].map(String), file).toEqual([]);
      manifests.push({ file, doc: document.toJS() as Doc });
    }
  }
  return manifests;
}

const manifests = loadManifests();
const only = (kind: string): Doc => {
  const found = manifests.filter(({ doc }) => doc.kind === kind);
  expect(found, kind).toHaveLength(1);
  return structuredClone(found[0]!.doc);
};
const deployment = only('Deployment');
const pod: Doc = deployment.spec.template.spec;
const container: Doc = pod.containers[0];
const env = (name: string): Doc | undefined => (container.env as Doc[]).find((e) => e.name === name);
const envValue = (name: string): string => {
  const value = env(name)?.value;
  expect(value, name).toEqual(expect.any(String));
  return value as string;
};
/** A container port by number or by name, as probes and Services name it. */
const containerPort = (port: number | string): number | undefined =>
  typeof port === 'number' ? port : ((container.ports as Doc[]).find((p) => p.name === port)?.containerPort as number | undefined);
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

describe('examples/kubernetes', () => {
  it('holds a Deployment, ConfigMap, Secret, Service and PodDisruptionBudget, each valid against the Kubernetes 1.33 OpenAPI schema with unknown fields refused', () => {
    expect(manifests.map(({ doc }) => doc.kind as string).sort()).toEqual(['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
    for (const { file, doc } of manifests) expect(validateManifest(doc), `${file}: ${doc.kind}`).toEqual([]);
  });

  it('the schema check refuses a typo, a wrong type, a missing required field, a bad enum or quantity, naming where', () => {
    const broken = structuredClone(deployment);
    const c = broken.spec.template.spec.containers[0];
    c.readinessProb = c.readinessProbe;
    delete c.name;
    broken.spec.replicas = 'two';
    broken.spec.template.spec.securityContext.seccompProfile.type = 'RuntimeDefualt';
    c.resources.limits.memory = '256MB-ish';
    expect(validateManifest(broken)).toEqual(
      expect.arrayContaining([
        '/spec/template/spec/containers/0/readinessProb: unknown field',
        '/spec/template/spec/containers/0: must have required property name',
        '/spec/replicas: must be integer',
        '/spec/template/spec/securityContext/seccompProfile/type: must be equal to one of the allowed values',
        '/spec/template/spec/containers/0/resources/limits/memory: must match format "quantity"',
      ]),
    );
    const service = only('Service');
    service.spec.selectr = service.spec.selector;
    delete service.spec.ports[0].port;
    expect(validateManifest(service)).toEqual(expect.arrayContaining(['/spec/selectr: unknown field', '/spec/ports/0: must have required property port']));
    const budget = only('PodDisruptionBudget');
    budget.metdata = budget.metadata;
    budget.spec.maxUnavailable = true;
    expect(validateManifest(budget)).toEqual(expect.arrayContaining(['/metdata: unknown field', expect.stringMatching(/^\/spec\/maxUnavailable: /)]));
    expect(validateManifest({ ...deployment, kind: 'Deploymnet' })).toEqual(['(top level): no schema for apps/v1 Deploymnet']);
  });

  it('the pod passes the restricted Pod Security Standard, as user and group 10001 on a read-only root filesystem', () => {
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.automountServiceAccountToken).toBe(false);
    // The one writable path is the emptyDir where the image keeps haproxy.cfg, map files, the master socket and TMPDIR.
    const writable = container.volumeMounts.filter((m: Doc) => m.readOnly !== true);
    expect(writable).toEqual([{ name: 'run', mountPath: '/run/occs-lb' }]);
    expect(pod.volumes.find((v: Doc) => v.name === 'run')).toMatchObject({ emptyDir: {} });
  });

  it('the Pod Security check fails a pod that breaks the profile', () => {
    const loose = structuredClone(pod);
    loose.securityContext.runAsUser = 0;
    loose.securityContext.seccompProfile.type = 'Unconfined';
    loose.hostNetwork = true;
    loose.volumes.push({ name: 'host', hostPath: { path: '/' } });
    loose.containers[0].securityContext = { allowPrivilegeEscalation: true, capabilities: { add: ['NET_ADMIN'] } };
    expect(restrictedViolations(loose)).toEqual(
      expect.arrayContaining([
        'hostNetwork is true',
        'volume host is of type hostPath',
        'pod runs as user 0',
        'pod is seccomp Unconfined',
        'container occs-lb does not set allowPrivilegeEscalation: false',
        'container occs-lb has no RuntimeDefault or Localhost seccomp profile',
        'container occs-lb does not drop ALL capabilities',
        'container occs-lb adds capability NET_ADMIN',
      ]),
    );
  });

  it('the probes ask /livez and /readyz on the port OCCS_LB_LISTEN names, which listens on every address of the pod (where the kubelet probes)', () => {
    // `:PORT`: every address, IPv4 and IPv6 alike (an IPv6 pod IP would need brackets in HOST:PORT).
    const listen = /^:(\d+)$/.exec(envValue('OCCS_LB_LISTEN'));
    expect(listen, 'OCCS_LB_LISTEN is :PORT').not.toBeNull();
    const port = Number(listen![1]);
    for (const [probe, path] of [
      ['livenessProbe', '/livez'],
      ['readinessProbe', '/readyz'],
    ] as const) {
      const get: Doc = container[probe].httpGet;
      expect(get.path, probe).toBe(path);
      expect(containerPort(get.port), probe).toBe(port);
      expect(get.host, `${probe} goes to the pod IP`).toBeUndefined();
      expect(get.scheme ?? 'HTTP', probe).toBe('HTTP');
    }
  });

  it('the grace period covers the shutdown delay, the stop timeout and a margin, with no preStop hook adding to it', () => {
    const delay = parseDuration(envValue('OCCS_LB_SHUTDOWN_DELAY'))!;
    const stopTimeout = parseDuration(envValue('OCCS_LB_STOP_TIMEOUT'))!;
    expect(delay).toBeGreaterThan(0);
    expect(stopTimeout).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(delay + stopTimeout + 5000);
    expect(container.lifecycle?.preStop).toBeUndefined();
    // No docker-link variables: for a Service named occs-lb they would read as OCCS_LB_* settings.
    expect(pod.enableServiceLinks).toBe(false);
  });

  it('replicas spread over nodes, a drain takes one at a time, and the Service sends port 80 to their port 5000 and 443 to their HTTPS port', () => {
    const labels: Record<string, string> = deployment.spec.template.metadata.labels;
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const perNode = pod.topologySpreadConstraints.find((t: Doc) => t.topologyKey === 'kubernetes.io/hostname');
    expect(perNode).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' });
    expect(matches(perNode.labelSelector.matchLabels, labels)).toBe(true);
    const budget = only('PodDisruptionBudget');
    expect(matches(budget.spec.selector.matchLabels, labels)).toBe(true);
    expect(budget.spec.maxUnavailable ?? deployment.spec.replicas - budget.spec.minAvailable).toBe(1);
    const service = only('Service');
    expect(matches(service.spec.selector, labels)).toBe(true);
    expect((service.spec.ports as Doc[]).map((p): [number, number | undefined] => [Number(p.port), containerPort(p.targetPort as number | string)])).toEqual([
      [80, 5000],
      [443, Number(envValue('OCCS_LB_HTTPS_PORT'))],
    ]);
  });

  it('HTTPS takes its certificate from the TLS Secret, mounted read-only where OCCS_LB_CERT_DIR points, optional so pods start before it is issued', () => {
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === envValue('OCCS_LB_CERT_DIR'));
    expect(mount).toMatchObject({ readOnly: true });
    const volume = pod.volumes.find((v: Doc) => v.name === mount.name);
    expect(volume.secret).toMatchObject({ secretName: 'occs-lb-tls', optional: true });
  });

  it('the ConfigMap holds a config file occs-lb accepts, mounted where OCCS_LB_CONFIG points', () => {
    const configMap = only('ConfigMap');
    const mount = container.volumeMounts.find((m: Doc) => m.mountPath === '/etc/occs-lb');
    expect(pod.volumes.find((v: Doc) => v.name === mount?.name)?.configMap?.name).toBe(configMap.metadata.name);
    const [file, ...others] = Object.keys(configMap.data);
    expect(others).toEqual([]);
    expect(file).toMatch(/^(occs-lb\.config\.(json|yaml|yml)|\.occs-lbrc(\.(json|yaml|yml))?)$/);
    expect(envValue('OCCS_LB_CONFIG')).toBe(`/etc/occs-lb/${file}`);
    const config: unknown = parse(configMap.data[file!]);
    const checked = fileConfigSchema.safeParse(config);
    expect(checked.error?.issues ?? []).toEqual([]);
    expect(config).toMatchObject({ kv: expect.any(String), prefixes: [expect.any(String)] });
    // The same check refuses a key occs-lb does not have.
    expect(fileConfigSchema.safeParse({ ...(config as object), prefix: 'apps/x' }).success).toBe(false);
  });

  it('the token and the stats password are Secret files the pod can read, never literal environment values', () => {
    const secret = only('Secret');
    const volumes = pod.volumes as Doc[];
    const mount = (container.volumeMounts as Doc[]).find((m) => volumes.find((v) => v.name === m.name)?.secret)!;
    const volume: Doc = volumes.find((v) => v.name === mount.name)!.secret;
    expect(volume.secretName).toBe(secret.metadata.name);
    for (const [variable, key] of [
      ['OCCS_API_TOKEN_FILE', 'token'],
      ['OCCS_LB_STATS_PASSWORD_FILE', 'stats-password'],
    ] as const) {
      expect(Object.keys(secret.stringData)).toContain(key);
      expect(envValue(variable)).toBe(`${mount.mountPath}/${key}`);
    }
    // Secret files are root's, group fsGroup: the pod's group reads them.
    expect(volume.defaultMode).toBe(0o440);
    expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    const literal = container.env.filter((e: Doc) => /TOKEN|PASSWORD/.test(e.name) && !e.name.endsWith('_FILE'));
    expect(literal).toEqual([]);
  });
});
