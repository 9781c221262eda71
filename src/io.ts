import { fstatSync } from 'node:fs';

/** The outside world a command talks to; tests pass their own. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderrIsTTY: boolean;
  /** stdout and stderr are one file (a terminal, `2>&1`): what stdout says reaches the same reader. */
  sameOutput?: boolean;
}

/** Whether fds 1 and 2 are the same file (device and inode): a terminal, or `2>&1` into a pipe or file. */
function sameFile(): boolean {
  try {
    const [out, err] = [fstatSync(1), fstatSync(2)];
    return out.dev === err.dev && out.ino === err.ino;
  } catch {
    return false;
  }
}

export function processIo(): Io {
  // `occs-lb render | head` closes the pipe early: the reader has what it wanted, so stop writing
  // instead of dying on an unhandled EPIPE.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    // Asked only when an error is told (validate's), not at every start.
    get sameOutput() {
      return sameFile();
    },
  };
}
