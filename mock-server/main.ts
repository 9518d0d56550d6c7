/**
 * Runs the mock server as a standalone command (`npm run server`).
 *
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), JOB_TIME (job run time in ms,
 * default 3000), CORS_ORIGINS (comma-separated origins or `*`, default none) and LOG_LEVEL
 * (pino level, default info). Logs are pretty-printed on a terminal and JSON lines otherwise.
 * An invalid setting ends the process with exit code 1 and one fatal log line.
 */
import pino, { type LevelWithSilent, type Logger } from 'pino';
import {
  ConfigError,
  DEFAULT_LOG_LEVEL,
  explainListenError,
  parseLogLevel,
  readConfig,
  type ServerConfig,
} from './config';
import { createMockServer, type MockServer } from './index';

/** Time in ms that shutdown may take before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5000;

function createLogger(level: LevelWithSilent): Logger {
  if (process.stdout.isTTY) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  return pino({ level });
}

/**
 * Logs an error that stops the start-up and sets exit code 1. A ConfigError is a user error,
 * not a bug, so only its message is logged. Any other error is logged with its stack.
 */
function logStartupError(
  logger: Logger,
  error: unknown,
  context: Record<string, unknown> = {},
): void {
  if (error instanceof ConfigError) {
    logger.fatal(error.message);
  } else {
    logger.fatal({ err: error, ...context }, 'mock server failed to start');
  }
  process.exitCode = 1;
}

async function main(): Promise<void> {
  let logger: Logger;
  try {
    logger = createLogger(parseLogLevel(process.env.LOG_LEVEL));
  } catch (error) {
    logStartupError(createLogger(DEFAULT_LOG_LEVEL), error);
    return;
  }

  let config: ServerConfig;
  let server: MockServer;
  try {
    config = readConfig(process.env);
    server = createMockServer({ logger, corsOrigins: config.corsOrigins });
  } catch (error) {
    logStartupError(logger, error);
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
    await server.listen(config.port, config.host);
  } catch (error) {
    const { host, port } = config;
    logStartupError(logger, explainListenError(error, host, port), { host, port });
    await server.close();
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
  }
}

void main();
