import cors from 'cors';
import express, {
  type Express,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import {
  errorHandler,
  HttpError,
  methodNotAllowed,
  notFound,
  quoteValue,
  sendError,
} from './errors';
import type { Faults } from './faults';
import { requestLog, requestLogging, shortClientId } from './logger';
import { countAs, jsonBody, noStore, type RouteLabel } from './middleware';
import { createMockRouter, MOCK_PATH } from './mockRoutes';
import type { ResolvedOptions } from './options';
import type { JobStore } from './store';
import type { MockServerStats } from './server';
import type { StreamHub } from './stream';
import type { Job } from '../src/types';
import {
  invalidJobIdError,
  parseBatchIds,
  parseCreateBody,
  parseLastEventId,
  readClientId,
  validateJobId,
} from './validation';

/** Everything the routes need from the server. */
export interface AppContext {
  options: ResolvedOptions;
  store: JobStore;
  hub: StreamHub;
  faults: Faults;
  stats(): MockServerStats;
  countRequest(label: RouteLabel): void;
  countResponse(status: number | undefined): void;
  isClosed(): boolean;
}

const API_ROUTES = 'The API routes are POST /create, GET /status/:id and GET /status';

/** `Retry-After` in seconds sent with `429` when a client exceeds its stream limit. */
const STREAM_LIMIT_RETRY_AFTER_SECONDS = 5;

/** Builds the Express app: logging, CORS, the API routes, `/__mock`, static files and errors. */
export function createApp(context: AppContext): Express {
  const { options } = context;
  const app = express();
  app.disable('x-powered-by');
  // Job status changes while a job runs, so responses carry no ETag and must not be cached.
  app.set('etag', false);

  app.use(requestLogging(options.logger, context.countResponse));
  if (options.corsOrigins === '*' || options.corsOrigins.length > 0) {
    app.use(
      cors({
        origin: options.corsOrigins,
        methods: ['GET', 'HEAD', 'POST', 'DELETE'],
        allowedHeaders: ['Content-Type', 'X-Client-Id', 'Last-Event-ID', 'X-Request-Id'],
        exposedHeaders: ['Retry-After', 'X-Request-Id', 'Location'],
        maxAge: 600,
      }),
    );
  }
  app.use((_req, res, next) => {
    if (context.isClosed()) {
      sendError(res, 503, 'The mock server is closed: create a new one to send requests');
      return;
    }
    next();
  });

  app.use(createApiRouter(context));
  if (options.faults) {
    app.use(MOCK_PATH, createMockRouter(context, countAs(context.countRequest, 'mock')));
  }
  if (options.staticDir !== undefined) {
    app.use(countAs(context.countRequest, 'other'), express.static(options.staticDir));
  }

  app.use(countAs(context.countRequest, 'other'), notFound(API_ROUTES));
  app.use(errorHandler(options.logger));
  return app;
}

function isStreamRequest(req: Request): boolean {
  // HEAD never opens a stream, because a stream without a body would stay open for nothing.
  return (
    req.method === 'GET' && (req.headers.accept ?? '').toLowerCase().includes('text/event-stream')
  );
}

function clientIdOf(res: Response): string {
  return res.locals.clientId as string;
}

function createApiRouter(context: AppContext): express.Router {
  const { options, store, faults } = context;
  const count = (label: RouteLabel) => countAs(context.countRequest, label);
  const injectFaults = faults.middleware();
  const requireClient: RequestHandler = (req, res, next) => {
    res.locals.clientId = readClientId(req);
    next();
  };

  const createJob: RequestHandler = (req, res) => {
    const createOptions = parseCreateBody(req.body);
    const clientId = clientIdOf(res);
    const job = store.createJob(clientId, createOptions);

    requestLog(res, options.logger).info(
      {
        jobId: job.id,
        client: shortClientId(clientId),
        jobDurationMs: createOptions.durationMs ?? options.jobTimeMs,
        outcome: createOptions.outcome ?? 'completed',
      },
      'job created',
    );
    res.status(201).location(`/status/${job.id}`).json(job);
  };

  const getJob: RequestHandler = (req, res) => {
    const id = validateJobId(String(req.params.id), options.limits.maxIdLength);
    const job = store.get(clientIdOf(res), id);
    if (job === undefined) {
      throw new HttpError(
        404,
        `Job ${quoteValue(id)} not found: no job of this client id has that id. ` +
          `Finished jobs are removed ${options.finishedTtlMs} ms after they finish`,
      );
    }
    res.json(job);
  };

  const getJobsOrStream: RequestHandler = (req, res) => {
    if (isStreamRequest(req)) {
      openStream(context, req, res);
      return;
    }
    if (req.query.ids === undefined) {
      throw new HttpError(
        400,
        'Missing ids: pass ?ids=<id>,<id> for the status of several jobs, or send ' +
          'Accept: text/event-stream to open the event stream',
      );
    }

    const { maxBatchIds, maxIdLength } = options.limits;
    const ids = parseBatchIds(req.query.ids, maxBatchIds, maxIdLength);
    const clientId = clientIdOf(res);
    const jobs: Job[] = [];
    const missing: string[] = [];
    for (const id of ids) {
      const job = store.get(clientId, id);
      if (job === undefined) {
        missing.push(id);
      } else {
        jobs.push(job);
      }
    }
    res.json({ jobs, missing });
  };

  const countStream = count('stream');
  const countBatch = count('batch');
  const countStatusRequest: RequestHandler = (req, res, next) => {
    (isStreamRequest(req) ? countStream : countBatch)(req, res, next);
  };

  // Each route runs: count, no-store, faults (latency, error rate), client id, then the handler.
  const router = express.Router();
  router
    .route('/create')
    .post(
      count('create'),
      noStore,
      injectFaults,
      requireClient,
      jsonBody(options.limits.bodyBytes),
      createJob,
    )
    .all(count('other'), methodNotAllowed(['POST']));
  router
    .route('/status')
    .get(countStatusRequest, noStore, injectFaults, requireClient, getJobsOrStream)
    .all(count('other'), methodNotAllowed(['GET', 'HEAD']));
  router
    .route('/status/:id')
    .get(count('status'), noStore, injectFaults, requireClient, getJob)
    .all(count('other'), methodNotAllowed(['GET', 'HEAD']));

  // Express decodes `:id` before any handler of the route runs, and rejects a value that is not
  // valid percent-encoding, such as `/status/%`, with a bare URIError. Such an id never names
  // a job, so it gets the same 400 as any other invalid id.
  router.use((error: unknown, req: Request, _res: Response, next: NextFunction) => {
    const rawId = /^\/status\/([^/]+)\/?$/i.exec(req.path)?.[1];
    if (error instanceof URIError && rawId !== undefined) {
      next(invalidJobIdError(rawId, options.limits.maxIdLength));
      return;
    }
    next(error);
  });
  return router;
}

function openStream(context: AppContext, req: Request, res: Response): void {
  const { options, hub, faults } = context;
  const clientId = clientIdOf(res);

  const refusalMs = faults.streamRefusalMs();
  if (refusalMs > 0) {
    throw new HttpError(
      503,
      `Event streams are refused for another ${refusalMs} ms by the refuse-streams fault. ` +
        'Retry later, or poll GET /status?ids= meanwhile',
      { headers: { 'Retry-After': String(Math.ceil(refusalMs / 1000)) } },
    );
  }

  const maxStreams = options.limits.maxStreamsPerClient;
  if (hub.streamsOf(clientId) >= maxStreams) {
    throw new HttpError(
      429,
      `Too many event streams: this client id already has ${maxStreams} open, the maximum. ` +
        'Close one, or poll GET /status?ids= instead',
      { headers: { 'Retry-After': String(STREAM_LIMIT_RETRY_AFTER_SECONDS) } },
    );
  }

  // The header wins over the query parameter, as for the client id.
  const header = req.headers['last-event-id'];
  const lastEventId = parseLastEventId(header ?? req.query.lastEventId);
  hub.open(res, clientId, lastEventId, requestLog(res, options.logger));
}
