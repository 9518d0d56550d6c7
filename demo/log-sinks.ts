import pino, { type Logger as PinoLogger } from 'pino';
import type { Logger } from '../src';
import type { Display, Level } from './display';

/** Creates a logger for the SDK's `logging` option that writes into the demo's log. */
export function createSdkLogger(display: Display): Logger {
  return {
    debug: (message, fields) => display.log('sdk', 'debug', message, fields),
    info: (message, fields) => display.log('sdk', 'info', message, fields),
    warn: (message, fields) => display.log('sdk', 'warn', message, fields),
    error: (message, fields) => display.log('sdk', 'error', message, fields),
  };
}

/** pino's numeric levels, mapped to the demo's four (trace counts as debug, fatal as error). */
function levelOf(value: unknown): Level {
  if (typeof value !== 'number' || value < 30) return 'debug';
  if (value < 40) return 'info';
  if (value < 50) return 'warn';
  return 'error';
}

/**
 * Creates a pino logger for the mock server whose records become demo log lines.
 *
 * pino writes each record as one JSON line to the destination object, synchronously. Without
 * `verbose`, the per-request `request finished` lines of successful requests are left out, because
 * polling sends several requests a second. The summary counts the requests instead.
 */
export function createServerLogger(display: Display, verbose: boolean): PinoLogger {
  const destination = {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        display.log('server', 'info', line.trimEnd());
        return;
      }
      const { level, msg, requestId, ...fields } = record;
      const status = typeof fields.status === 'number' ? fields.status : undefined;
      if (!verbose && msg === 'request finished' && status !== undefined && status < 400) return;
      display.log(
        'server',
        levelOf(level),
        typeof msg === 'string' ? msg : '(no message)',
        verbose ? { ...fields, requestId } : fields,
      );
    },
  };
  // `base: undefined` drops pid and hostname, and the display adds its own timestamp.
  return pino(
    { level: verbose ? 'debug' : 'info', base: undefined, timestamp: false },
    destination,
  );
}
