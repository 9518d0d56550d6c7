/**
 * Serves the browser demo page together with the mock job API on one origin, so that the page needs
 * no CORS and its EventSource can reach the API. `npm run demo:browser` builds the SDK and runs this.
 *
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), JOB_TIME (default job run time in ms,
 * read by the mock server) and LOG_LEVEL (pino level, default info). Logs are pretty-printed on a
 * terminal and JSON lines otherwise.
 *
 * Besides the page itself (`public/`, through the mock server's `staticDir`), the server exposes
 * the files that the page's import map names:
 *
 * - `/dist/` is the SDK build (`dist/index.mjs`);
 * - `/vendor/rxjs/` is the ES2015 build of the installed rxjs (`rxjs/dist/esm`);
 * - `/vendor/tslib/` is the tslib that rxjs imports.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express, { type Express } from 'express';
import pino from 'pino';
import { createMockServer, type MockServer, type MockServerOptions } from '../../mock-server';
import { ConfigError, parseLogLevel } from '../../mock-server/config';

const repositoryRoot = path.resolve(__dirname, '../..');

/** A running demo server. */
export interface BrowserDemo {
  /** Origin of the page and the API, such as `http://127.0.0.1:3000`. */
  url: string;
  /** The mock server behind the page: its store, faults and `stats()`. */
  mock: MockServer;
  /** Ends every stream, clears the mock server's timers and closes every connection. */
  close(): Promise<void>;
}

/** Options of {@link startBrowserDemo}: the mock server's options, the port and the host. */
export interface BrowserDemoOptions extends Omit<MockServerOptions, 'staticDir'> {
  /** Port to listen on. `0` picks a free one. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

/**
 * Finds the folders of the installed rxjs ES2015 build and of the tslib that rxjs resolves, so the
 * page loads the same copies as Node.js does.
 */
function vendorFolders(): { rxjsEsm: string; tslib: string } {
  const rxjsRoot = path.dirname(require.resolve('rxjs/package.json'));
  const tslibRoot = path.dirname(require.resolve('tslib/package.json', { paths: [rxjsRoot] }));
  return { rxjsEsm: path.join(rxjsRoot, 'dist/esm'), tslib: tslibRoot };
}

/** Builds the app: the package files first, then the mock server's API, faults and the page. */
function createDemoApp(mock: MockServer): Express {
  const { rxjsEsm, tslib } = vendorFolders();
  const app = express();
  app.disable('x-powered-by');

  app.use('/dist', express.static(path.join(repositoryRoot, 'dist'), { index: false }));
  // rxjs's ES modules import each other without the `.js` extension (`./internal/Observable`), which
  // a browser cannot resolve, so the server tries that extension for paths that have none.
  app.use('/vendor/rxjs', express.static(rxjsEsm, { index: false, extensions: ['js'] }));
  app.use('/vendor/tslib', express.static(tslib, { index: false }));
  app.use(mock.app);
  return app;
}

/** Starts the mock server with the demo page and resolves once it listens. */
export async function startBrowserDemo(options: BrowserDemoOptions = {}): Promise<BrowserDemo> {
  const { port = 0, host = '127.0.0.1', ...mockOptions } = options;
  const mock = createMockServer({ ...mockOptions, staticDir: path.join(__dirname, 'public') });
  const server = createServer(createDemoApp(mock));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const close = async (): Promise<void> => {
    await mock.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };
  return { url: `http://${urlHost}:${address.port}`, mock, close };
}

async function main(): Promise<void> {
  const level = parseLogLevel(process.env.LOG_LEVEL);
  // Readable lines on a terminal, JSON lines when the output goes to a file or a pipe.
  const logger = process.stdout.isTTY
    ? pino({
        level,
        transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } },
      })
    : pino({ level });
  const rawPort = process.env.PORT ?? '3000';
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535) {
    logger.fatal({ port: rawPort }, 'invalid PORT: expected an integer from 0 to 65535');
    process.exitCode = 1;
    return;
  }

  const demo = await startBrowserDemo({ port, host: process.env.HOST ?? '127.0.0.1', logger });
  logger.info({ url: demo.url }, `browser demo ready: open ${demo.url}/ in a browser`);

  const shutdown = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    demo.close().then(
      () => logger.info('shutdown complete'),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    // An invalid setting is a user error, so its message is enough.
    if (error instanceof ConfigError) {
      console.error(`The browser demo could not start: ${error.message}`);
    } else {
      console.error('The browser demo could not start:', error);
    }
    process.exitCode = 1;
  });
}
