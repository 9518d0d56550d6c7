import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createApp } from './app';
import { Faults, type FaultState } from './faults';
import type { RouteLabel } from './middleware';
import { resolveOptions, type MockServerOptions } from './options';
import { JobStore } from './store';
import { StreamHub } from './stream';

/** Counters of a running mock server, also served as `GET /__mock/stats`. */
export interface MockServerStats {
  /** Requests by route label: create, status, batch, stream, mock and other. */
  requests: Record<string, number>;
  /** Responses by status code, counted when each response ends. */
  responses: Record<string, number>;
  openStreams: number;
  /** Jobs in the store, finished ones included until they are evicted. */
  jobs: number;
  /** Clients with stream state: a sequence number and a replay log. */
  clients: number;
  /** Timers that the server holds: job steps and evictions, the heartbeat, latency delays. */
  timers: number;
  faults: FaultState;
}

/** A mock job server. See docs/PROTOCOL.md for its HTTP API. */
export interface MockServer {
  /** The Express app, usable without {@link listen}, for example with supertest. */
  app: Express;
  store: JobStore;
  faults: Faults;
  stats(): MockServerStats;
  /**
   * Starts an HTTP server on `host` (default 127.0.0.1) and `port` (default 0, a free port).
   * Rejects when the port is taken, when already listening, or after {@link close}.
   */
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /**
   * Ends every stream, clears every timer (job steps and evictions, heartbeat, latency delays)
   * and closes the HTTP server with all its connections, keep-alive ones included.
   * Idempotent: later calls return the same promise.
   */
  close(): Promise<void>;
}

/**
 * Creates a mock job server with its store, streams and faults. Throws a RangeError or TypeError
 * naming the option when an option (or the JOB_TIME environment variable) is invalid.
 */
export function createMockServer(options: MockServerOptions = {}): MockServer {
  const resolved = resolveOptions(options);
  const { logger } = resolved;

  const store = new JobStore({
    jobTimeMs: resolved.jobTimeMs,
    finishedTtlMs: resolved.finishedTtlMs,
    logger,
  });
  const hub = new StreamHub(store, {
    heartbeatMs: resolved.heartbeatMs,
    retryMs: resolved.retryMs,
    replayLogSize: resolved.limits.replayLogSize,
    logger,
  });
  const faults = new Faults(hub, logger);

  const requests: Record<string, number> = {};
  const responses: Record<string, number> = {};
  let closed = false;
  let server: Server | undefined;
  let closing: Promise<void> | undefined;

  const stats = (): MockServerStats => ({
    requests: { ...requests },
    responses: { ...responses },
    openStreams: hub.openStreams,
    jobs: store.size,
    clients: hub.clientCount,
    timers: store.timerCount + hub.timerCount + faults.timerCount,
    faults: faults.state(),
  });

  const app = createApp({
    options: resolved,
    store,
    hub,
    faults,
    stats,
    countRequest: (label: RouteLabel) => {
      requests[label] = (requests[label] ?? 0) + 1;
    },
    countResponse: (status: number | undefined) => {
      const key = status === undefined ? 'none' : String(status);
      responses[key] = (responses[key] ?? 0) + 1;
    },
    isClosed: () => closed,
  });

  const listen = (port = 0, host = '127.0.0.1'): Promise<{ url: string; port: number }> => {
    if (closed) {
      return Promise.reject(new Error('MockServer is closed: create a new one to listen again'));
    }
    if (server !== undefined) {
      return Promise.reject(new Error('MockServer is already listening: call listen() once'));
    }

    const httpServer = createServer(app);
    // Node's default of 5 s races with clients that reuse an idle keep-alive connection just as the
    // server closes it. A timeout longer than the clients' own makes the client close first.
    httpServer.keepAliveTimeout = 65_000;
    server = httpServer;
    // The response in progress on each connection. A parse error on a keep-alive connection
    // can arrive while the server is still responding to the previous request.
    const responding = new WeakMap<Duplex, ServerResponse>();
    httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
      responding.set(req.socket, res);
      res.once('close', () => {
        if (responding.get(req.socket) === res) {
          responding.delete(req.socket);
        }
      });
    });
    httpServer.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      answerClientError(error, socket, responding.get(socket), logger);
    });

    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        server = undefined;
        reject(error);
      };
      httpServer.once('error', onError);
      httpServer.listen(port, host, () => {
        httpServer.off('error', onError);
        const address = httpServer.address() as AddressInfo;
        const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
        const url = `http://${urlHost}:${address.port}`;
        logger.info({ url }, 'mock server listening');
        resolve({ url, port: address.port });
      });
    });
  };

  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      closed = true;
      hub.close();
      faults.close();
      store.close();

      if (server === undefined) {
        logger.info('mock server closed');
        resolve();
        return;
      }
      server.close(() => {
        logger.info('mock server closed');
        resolve();
      });
      server.closeAllConnections();
    });
    return closing;
  };

  return { app, store, faults, stats, listen, close };
}

/**
 * Responds with a JSON error, as the routes do, to a request that Node's HTTP parser rejected
 * (bad request line, header too large, request timeout), in place of Node's empty response.
 */
function answerClientError(
  error: NodeJS.ErrnoException,
  socket: Duplex,
  inProgress: ServerResponse | undefined,
  logger: Logger,
): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  if (inProgress !== undefined) {
    // Writing now would mix two responses on the wire. The request in progress gets its
    // response, and then the connection closes without a response to the unparsable bytes.
    logger.warn(
      { code: error.code },
      'HTTP parser rejected data after a request; closing after the response',
    );
    inProgress.once('close', () => socket.destroy());
    return;
  }

  let status = 400;
  let message = 'Malformed HTTP request: the request line or headers could not be parsed';
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'Request headers too large: send fewer or shorter headers';
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'Request timed out before the request was complete';
  }
  logger.warn({ code: error.code, status }, 'HTTP parser rejected a request');

  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  );
}
