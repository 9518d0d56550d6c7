import type { LevelWithSilent } from 'pino';
import { resolveOptions } from './options';

/**
 * An invalid setting of the standalone server. It is logged without a stack trace, because its
 * message names the setting, the value and the fix, and the user has to change the setting, not
 * the code.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Pino's levels from the most to the least severe, and `silent`, which logs nothing. */
export const LOG_LEVELS: readonly LevelWithSilent[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info';

/**
 * Settings of `npm run server`, read from environment variables. LOG_LEVEL is parsed separately by
 * {@link parseLogLevel}, because the logger has to exist before the other errors can be logged.
 */
export interface ServerConfig {
  port: number;
  host: string;
  corsOrigins: string[] | '*';
}

/**
 * Reads and validates PORT, HOST, CORS_ORIGINS and JOB_TIME. An empty variable counts as unset.
 * Throws a ConfigError for the first invalid value.
 */
export function readConfig(env: NodeJS.ProcessEnv): ServerConfig {
  const config: ServerConfig = {
    port: parsePort(env.PORT),
    host: env.HOST === undefined || env.HOST === '' ? '127.0.0.1' : env.HOST,
    corsOrigins: parseCorsOrigins(env.CORS_ORIGINS),
  };

  // createMockServer reads JOB_TIME and checks the origins itself. Resolving the options here
  // as well reports those values as configuration errors before the server is built.
  try {
    resolveOptions({ corsOrigins: config.corsOrigins }, env);
  } catch (error) {
    // resolveOptions throws a RangeError or a TypeError only for an invalid value.
    if (error instanceof RangeError || error instanceof TypeError) {
      throw new ConfigError(error.message);
    }
    throw error;
  }
  return config;
}

/**
 * Parses LOG_LEVEL, which must be one of {@link LOG_LEVELS} in lower case. Unset or empty means
 * `info`.
 */
export function parseLogLevel(raw: string | undefined): LevelWithSilent {
  if (raw === undefined || raw === '') {
    return DEFAULT_LOG_LEVEL;
  }
  const level = LOG_LEVELS.find((name) => name === raw);
  if (level === undefined) {
    throw new ConfigError(
      `Invalid LOG_LEVEL ${JSON.stringify(raw)}: expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return level;
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') {
    return 3000;
  }
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    throw new ConfigError(`Invalid PORT "${raw}": expected an integer from 0 to 65535`);
  }
  return port;
}

function parseCorsOrigins(raw: string | undefined): string[] | '*' {
  if (raw === undefined || raw.trim() === '') {
    return [];
  }
  if (raw.trim() === '*') {
    return '*';
  }
  return raw
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
}

/**
 * Returns a ConfigError that explains a failed `listen` whose cause is the PORT or HOST setting
 * (port in use, port not permitted, address not local, host name not found), else `error` itself.
 */
export function explainListenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const address = `${host}:${port}`;
  switch (code) {
    case 'EADDRINUSE':
      return new ConfigError(
        `Port ${port} on ${host} is already in use: stop the process that listens on ` +
          `${address}, or set PORT to a free port (PORT=0 picks one)`,
      );
    case 'EACCES':
      return new ConfigError(
        `Permission denied to listen on ${address}: ports below 1024 usually need root, ` +
          'so set PORT to 1024 or higher',
      );
    case 'EADDRNOTAVAIL':
      return new ConfigError(
        `Failed to listen on ${address}: HOST "${host}" is not an address of this machine. ` +
          'Set HOST to a local address such as 127.0.0.1',
      );
    case 'ENOTFOUND':
      return new ConfigError(
        `Failed to listen on ${address}: HOST "${host}" is not a known host name. ` +
          'Set HOST to an IP address such as 127.0.0.1',
      );
    default:
      return error;
  }
}
