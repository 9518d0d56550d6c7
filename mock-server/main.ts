/**
 * Runs the mock server as a standalone command (`npm run server`).
 *
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), JOB_TIME (job run time in ms,
 * default 3000), CORS_ORIGINS (comma-separated origins or `*`, default none) and LOG_LEVEL
 * (pino level, default info). Logs are pretty-printed on a terminal and JSON lines otherwise.
 */
import pino, { type Logger } from 'pino';
import { createMockServer, type MockServer } from './index';

/** Time in ms that shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5000;

function createLogger(): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.stdout.isTTY) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level });
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw === '') {
    return 3000;
  }
  const port = /^\d{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    throw new RangeError(`Invalid PORT "${raw}": expected an integer from 0 to 65535`);
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

async function main(): Promise<void> {
  const logger = createLogger();

  let server: MockServer;
  let port: number;
  try {
    port = parsePort(process.env.PORT);
    server = createMockServer({ logger, corsOrigins: parseCorsOrigins(process.env.CORS_ORIGINS) });
  } catch (error) {
    logger.fatal({ err: error }, 'invalid configuration');
    process.exitCode = 1;
    return;
  }

  let shuttingDown = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal during shutdown; exiting at once');
      process.exit(1);
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');

    const forceExit = setTimeout(() => {
      logger.error({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'shutdown timed out; exiting');
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS);
    forceExit.unref();

    // Once the server is closed nothing keeps the event loop busy, so the process exits.
    server.close().then(
      () => {
        logger.info('shutdown complete');
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    await server.listen(port, process.env.HOST ?? '127.0.0.1');
  } catch (error) {
    logger.fatal({ err: error, port }, 'could not start listening');
    process.exitCode = 1;
    await server.close();
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
  }
}

void main();
