import type { Settings } from '../config/types.js';
import type { Io } from '../io.js';
import type { Logger } from '../log.js';

/** What every command function receives besides its settings. */
export interface CommandContext {
  io: Io;
  log: Logger;
  /** Masks our secrets in a report (every string in it) before it is encoded and printed. */
  redact: <T>(value: T) => T;
  /** Reads the settings again, from the same flags and environment (SIGHUP: the config file may have changed). */
  reloadSettings?: () => Promise<Readonly<Settings>>;
}
