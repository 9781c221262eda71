/**
 * A SIGHUP that comes while watch is still starting (`systemctl reload` right after `start`, a
 * config reloader) would end the process: Node's default for SIGHUP is to exit, and systemd
 * counts that as a clean stop, so `Restart=on-failure` would not even bring it back. From the
 * first moment, one is noted instead, and honoured once watch's own handler is in place.
 */
let held: { arrived: boolean; listener: () => void } | undefined;

export function holdHangups(): void {
  if (held) return;
  const hold = { arrived: false, listener: () => void (hold.arrived = true) };
  process.on('SIGHUP', hold.listener);
  held = hold;
}

/** Whether a SIGHUP came while watch was starting; from here on, watch's own handler takes them. */
export function releaseHangups(): boolean {
  const hold = held;
  held = undefined;
  if (!hold) return false;
  process.removeListener('SIGHUP', hold.listener);
  return hold.arrived;
}
