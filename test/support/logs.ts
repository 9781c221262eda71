import { createLogger, type Logger } from '../../src/log.js';
import { Redactor } from '../../src/util/redact.js';

/** A text logger at normal verbosity whose lines a test reads back. */
export function capturedLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({
    stream: { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream,
    format: 'text',
    verbosity: 'normal',
    redactor: new Redactor(),
  });
  return { log, lines };
}
