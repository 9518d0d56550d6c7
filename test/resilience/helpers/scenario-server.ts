import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Job, JobStatus } from '../../../src';

/**
 * A raw `node:http` server that speaks just enough of docs/PROTOCOL.md for the SDK (client id,
 * `GET /status?ids=` batches, the event stream) and lets each test decide what goes on the wire.
 *
 * Every scenario lives under its own path prefix: the SDK gets `http://127.0.0.1:<port>/<name>` as its
 * `url`, so one server hosts many scenarios and counts the requests of each one separately.
 */

/** Kind of a request to a scenario. */
export type RequestKind = 'stream' | 'batch' | 'other';

/** One request that the scenario server received. */
export interface SeenRequest {
  readonly kind: RequestKind;
  readonly method: string;
  /** Path and query below the scenario prefix, such as `/status?ids=a,b`. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Client id from the `X-Client-Id` header or the `uuid` query parameter. */
  readonly clientId: string | undefined;
  /** The `Last-Event-ID` header, which only an EventSource's own reconnection sends. */
  readonly lastEventIdHeader: string | undefined;
  /** The `lastEventId` query parameter, which the SDK sends when it creates a new EventSource. */
  readonly lastEventIdQuery: string | undefined;
  /** Job ids of a batch request, in request order. */
  readonly ids: readonly string[];
  /** Position among the requests of the same kind in this scenario, from 0. */
  readonly index: number;
  /** `Date.now()` when the request arrived. */
  readonly startedAt: number;
  /** `Date.now()` when the response ended or the connection closed; `undefined` while open. */
  endedAt: number | undefined;
  /** Whether the connection closed before the response was complete. */
  aborted: boolean;
}

/** What a handler gets for one request. */
export interface ScenarioContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly request: SeenRequest;
  readonly scenario: Scenario;
}

/** Responds to one request. */
export type Handler = (context: ScenarioContext) => void;

/** Handlers and jobs of one scenario. */
export interface ScenarioOptions {
  /** Responds to `GET /status` with `Accept: text/event-stream`. Default: `404` with a JSON error. */
  stream?: Handler;
  /** Responds to `GET /status?ids=`. Default: {@link answerBatch}, from the scenario's jobs. */
  batch?: Handler;
  /** Jobs the scenario starts with, by id. */
  jobs?: readonly Job[];
}

/** One named scenario: its URL, its jobs and the requests it received. */
export class Scenario {
  /** Jobs by id, as the default batch handler reports them. Tests may replace entries at any time. */
  readonly jobs = new Map<string, Job>();
  readonly requests: SeenRequest[] = [];

  constructor(
    readonly name: string,
    /** Base URL to pass as the SDK's `url` option. */
    readonly url: string,
    readonly options: ScenarioOptions,
  ) {
    for (const job of options.jobs ?? []) this.jobs.set(job.id, job);
  }

  /** Stream requests so far, in arrival order. */
  streams(): SeenRequest[] {
    return this.requests.filter((request) => request.kind === 'stream');
  }

  /** Batch requests so far, in arrival order. */
  batches(): SeenRequest[] {
    return this.requests.filter((request) => request.kind === 'batch');
  }

  /** Requests that are still open: no response end and no closed connection yet. */
  openRequests(): SeenRequest[] {
    return this.requests.filter((request) => request.endedAt === undefined);
  }

  setJob(job: Job): void {
    this.jobs.set(job.id, job);
  }
}

/** A running scenario server on 127.0.0.1 and a free port. */
export class ScenarioServer {
  private readonly scenarios = new Map<string, Scenario>();
  private readonly sockets = new Set<Socket>();
  private scenarioCount = 0;

  private constructor(
    private readonly server: Server,
    /** Origin such as `http://127.0.0.1:41234`. */
    readonly origin: string,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Starts a server on 127.0.0.1, port 0. */
  static async start(): Promise<ScenarioServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const instance = new ScenarioServer(server, `http://127.0.0.1:${port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => instance.handle(req, res));
    return instance;
  }

  /** Adds a scenario under a unique path prefix derived from `name`. */
  add(name: string, options: ScenarioOptions = {}): Scenario {
    this.scenarioCount += 1;
    const slug = `${name.replace(/[^A-Za-z0-9_-]+/g, '-')}-${this.scenarioCount}`;
    const scenario = new Scenario(slug, `${this.origin}/${slug}`, options);
    this.scenarios.set(slug, scenario);
    return scenario;
  }

  /** Open client connections, streams included. */
  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Closes the server and destroys every connection, open streams included. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.origin);
    const [, name = '', ...rest] = url.pathname.split('/');
    const scenario = this.scenarios.get(name);
    if (scenario === undefined) {
      answerJson(res, 404, { error: `Unknown scenario ${JSON.stringify(name)}` });
      return;
    }

    const path = `/${rest.join('/')}`;
    const accept = String(req.headers.accept ?? '');
    let kind: RequestKind = 'other';
    if (req.method === 'GET' && path === '/status') {
      kind = accept.includes('text/event-stream') ? 'stream' : 'batch';
    }
    const header = req.headers['x-client-id'];
    const request: SeenRequest = {
      kind,
      method: req.method ?? 'GET',
      path: `${path}${url.search}`,
      headers: req.headers,
      clientId: typeof header === 'string' ? header : (url.searchParams.get('uuid') ?? undefined),
      lastEventIdHeader: stringHeader(req.headers['last-event-id']),
      lastEventIdQuery: url.searchParams.get('lastEventId') ?? undefined,
      ids: (url.searchParams.get('ids') ?? '').split(',').filter((id) => id !== ''),
      index: scenario.requests.filter((seen) => seen.kind === kind).length,
      startedAt: Date.now(),
      endedAt: undefined,
      aborted: false,
    };
    scenario.requests.push(request);
    res.once('close', () => {
      request.endedAt = Date.now();
      request.aborted = !res.writableFinished;
    });

    // The protocol checks the client id before anything else.
    if (request.clientId === undefined) {
      answerJson(res, 401, { error: 'Missing client id' });
      return;
    }
    const context: ScenarioContext = { req, res, request, scenario };
    if (kind === 'stream') {
      (scenario.options.stream ?? notFound)(context);
    } else if (kind === 'batch') {
      (scenario.options.batch ?? answerBatch)(context);
    } else {
      notFound(context);
    }
  }
}

function stringHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function notFound({ res, request }: ScenarioContext): void {
  answerJson(res, 404, { error: `No route for ${request.method} ${request.path}` });
}

// ---------------------------------------------------------------------------------------------
// Building blocks for handlers.

/** Builds a job with fixed timestamps; `progress` defaults to what the status implies. */
export function makeJob(
  id: string,
  status: JobStatus,
  progress = status === 'completed' ? 100 : 0,
  extra: Partial<Job> = {},
): Job {
  const time = '2026-01-01T00:00:00.000Z';
  return { id, status, progress, createdAt: time, updatedAt: time, ...extra };
}

/** Formats one `status` event, with an `id:` line when `eventId` is given. */
export function statusEvent(job: Job, eventId?: number | string, lineEnd = '\n'): string {
  const lines = [`event: status`, `data: ${JSON.stringify(job)}`];
  if (eventId !== undefined) lines.unshift(`id: ${eventId}`);
  return lines.map((line) => `${line}${lineEnd}`).join('') + lineEnd;
}

/** Sends a JSON response with `Content-Length`. */
export function answerJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Responds to a batch request from the scenario's jobs: known ids in `jobs`, others in `missing`. */
export function answerBatch({ res, request, scenario }: ScenarioContext): void {
  const jobs: Job[] = [];
  const missing: string[] = [];
  for (const id of new Set(request.ids)) {
    const job = scenario.jobs.get(id);
    if (job === undefined) missing.push(id);
    else jobs.push(job);
  }
  answerJson(res, 200, { jobs, missing });
}

/** Sends an HTML error page, as a proxy or load balancer does. */
export function answerHtml(
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
): void {
  const page =
    `<!DOCTYPE html><html><head><title>${status} Error</title></head>` +
    `<body><h1>${status}</h1><p>The upstream server is unavailable.</p></body></html>`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
  res.end(page);
}

/** Sends the headers of an event stream, without any body yet. */
export function openStream(res: ServerResponse): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream',
    'Cache-Control': 'no-cache, no-transform',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
}

/**
 * Writes `bytes` in pieces of `chunkSize` bytes, one piece per `delayMs`, and stops early when the
 * client leaves. Resolves when every piece was written or the connection closed.
 */
export function writeInPieces(
  res: ServerResponse,
  bytes: Buffer,
  chunkSize: number,
  delayMs = 0,
): Promise<void> {
  return new Promise((resolve) => {
    let offset = 0;
    const writeNext = (): void => {
      if (res.destroyed || offset >= bytes.length) {
        resolve();
        return;
      }
      res.write(bytes.subarray(offset, offset + chunkSize));
      offset += chunkSize;
      setTimeout(writeNext, delayMs);
    };
    writeNext();
  });
}

/** Named handlers for the wire-level faults the resilience tests use. */
export const routes = {
  /** Opens the stream, sends the `retry:` line and a comment, then stays silent. */
  stallAfterOpen:
    (retryMs = 1000): Handler =>
    ({ res }) => {
      openStream(res);
      res.write(`retry: ${retryMs}\n: connected\n\n`);
    },

  /** Sends `text` as the stream body and keeps the stream open, or ends it when `end` is set. */
  streamText:
    (text: string | ((request: SeenRequest) => string), options: { end?: boolean } = {}): Handler =>
    ({ res, request }) => {
      openStream(res);
      res.write(typeof text === 'string' ? text : text(request));
      if (options.end === true) res.end();
    },

  /** Sends `text` one byte per chunk, `delayMs` apart, and keeps the stream open. */
  trickle:
    (text: string, delayMs = 1): Handler =>
    ({ res }) => {
      openStream(res);
      void writeInPieces(res, Buffer.from(text, 'utf8'), 1, delayMs);
    },

  /** Responds with a status and a JSON error body, as the protocol does for errors. */
  status:
    (status: number, headers: Record<string, string> = {}): Handler =>
    ({ res }) => {
      if (status === 204) {
        res.writeHead(204, headers);
        res.end();
        return;
      }
      answerJson(res, status, { error: `Scenario answers ${status}` }, headers);
    },

  /** Responds `200` with an HTML page in place of an event stream (a captive portal, say). */
  htmlPage:
    (status = 200): Handler =>
    ({ res }) =>
      answerHtml(res, status),

  /** Destroys the connection without any response. */
  resetConnection: (): Handler => {
    return ({ req }) => {
      req.socket.destroy();
    };
  },

  /** Accepts the request and never answers it. */
  hang: (): Handler => () => undefined,
};
