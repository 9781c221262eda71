import { createLogger, type Logger } from '../../src/log.js';
import { Redactor } from '../../src/util/redact.js';

/** A text logger at normal verbosity that keeps its lines in memory (`lines`), for tests that read what was logged. */
export function memoryLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream;
  return { log: createLogger({ stream, format: 'text', verbosity: 'normal', redactor: new Redactor() }), lines };
}
