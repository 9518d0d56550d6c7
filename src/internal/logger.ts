import type { Logger } from '../types';

type Level = keyof Logger;

const LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/** A logger that drops every record: the SDK is silent unless the application requests logs. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};

/**
 * Creates a logger that writes one line per record to the console, with an ISO-8601 timestamp, the
 * level and the fields as JSON, such as `2026-12-04T20:30:00.000Z heygen INFO transport changed {...}`.
 */
export function createConsoleLogger(): Logger {
  const logger = {} as Record<Level, Logger[Level]>;
  for (const level of LEVELS) {
    logger[level] = (message, fields) => {
      const suffix = fields === undefined ? '' : ` ${safeJson(fields)}`;
      // eslint-disable-next-line no-console -- the application asked for console logs.
      console[level](
        `${new Date().toISOString()} heygen ${level.toUpperCase()} ${message}${suffix}`,
      );
    };
  }
  return logger;
}

function safeJson(fields: Record<string, unknown>): string {
  try {
    return JSON.stringify(fields, (_key, value: unknown) =>
      value instanceof Error ? `${value.name}: ${value.message}` : value,
    );
  } catch {
    return '[fields not serializable]';
  }
}
