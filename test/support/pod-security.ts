/**
 * The Pod Security Standards' "restricted" profile (which includes "baseline"), as the
 * PodSecurity admission controller checks a pod spec: each rule that the spec breaks, named.
 * See https://kubernetes.io/docs/concepts/security/pod-security-standards/.
 */

/* eslint-disable @typescript-eslint/no-explicit-any -- a pod spec parsed from YAML */
type Spec = Record<string, any>;

const RESTRICTED_VOLUMES = ['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'];
const SAFE_SYSCTLS = [
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
];

/** The rules of the restricted profile that `pod` (a PodSpec) breaks; empty when it passes. */
export function restrictedViolations(pod: Spec): string[] {
  const problems: string[] = [];
  const fail = (rule: string) => problems.push(rule);
  const podContext: Spec = pod.securityContext ?? {};
  for (const host of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (pod[host] === true) fail(`${host} is true`);
  for (const volume of pod.volumes ?? []) {
    const type = Object.keys(volume).find((key) => key !== 'name');
    if (!type || !RESTRICTED_VOLUMES.includes(type)) fail(`volume ${volume.name} is of type ${type}`);
  }
  for (const sysctl of podContext.sysctls ?? []) if (!SAFE_SYSCTLS.includes(sysctl.name)) fail(`unsafe sysctl ${sysctl.name}`);
  problems.push(...contextViolations('pod', podContext));
  const containers: Spec[] = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];
  for (const container of containers) {
    const own: Spec = container.securityContext ?? {};
    const name = `container ${container.name}`;
    problems.push(...contextViolations(name, own));
    if (own.privileged === true) fail(`${name} is privileged`);
    if (own.allowPrivilegeEscalation !== false) fail(`${name} does not set allowPrivilegeEscalation: false`);
    if ((own.runAsNonRoot ?? podContext.runAsNonRoot) !== true) fail(`${name} does not run as non-root (runAsNonRoot)`);
    if (!['RuntimeDefault', 'Localhost'].includes(own.seccompProfile?.type ?? podContext.seccompProfile?.type))
      fail(`${name} has no RuntimeDefault or Localhost seccomp profile`);
    if (!(own.capabilities?.drop ?? []).includes('ALL')) fail(`${name} does not drop ALL capabilities`);
    for (const added of own.capabilities?.add ?? []) if (added !== 'NET_BIND_SERVICE') fail(`${name} adds capability ${added}`);
    if (own.procMount !== undefined && own.procMount !== 'Default') fail(`${name} sets procMount ${own.procMount}`);
    for (const port of container.ports ?? []) if (port.hostPort) fail(`${name} uses hostPort ${port.hostPort}`);
  }
  return problems;
}

/** The rules that apply alike to the pod's and to each container's securityContext. */
function contextViolations(where: string, context: Spec): string[] {
  const problems: string[] = [];
  if (context.runAsUser === 0) problems.push(`${where} runs as user 0`);
  if (context.seccompProfile?.type === 'Unconfined') problems.push(`${where} is seccomp Unconfined`);
  if (context.appArmorProfile?.type === 'Unconfined') problems.push(`${where} is AppArmor Unconfined`);
  if (context.windowsOptions?.hostProcess === true) problems.push(`${where} is a Windows host process`);
  const selinux = context.seLinuxOptions ?? {};
  if (selinux.user || selinux.role) problems.push(`${where} sets an SELinux user or role`);
  if (selinux.type && !['container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'].includes(selinux.type))
    problems.push(`${where} sets SELinux type ${selinux.type}`);
  return problems;
}
