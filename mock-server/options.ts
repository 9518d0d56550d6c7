import pino, { type Logger } from 'pino';

/** Request and resource limits. A request that exceeds one gets a 4xx response. */
export interface MockServerLimits {
  /** Maximum size of a JSON request body in bytes. Larger bodies get `413`. Default 1024. */
  bodyBytes?: number;
  /** Maximum length of a job id in characters. Longer ids get `400`. Default 64. */
  maxIdLength?: number;
  /** Maximum number of ids in one `GET /status?ids=` request. Default 100. */
  maxBatchIds?: number;
  /** Maximum number of open event streams per client id. More get `429`. Default 8. */
  maxStreamsPerClient?: number;
  /** Number of recent events kept per client for `Last-Event-ID` replay. Default 1000. */
  replayLogSize?: number;
}

/** Options of {@link createMockServer}. Every field is optional. */
export interface MockServerOptions {
  /**
   * Total run time of a job in ms, used when `POST /create` sends no `durationMs`.
   * @default the JOB_TIME environment variable, else 3000
   */
  jobTimeMs?: number;
  /** Interval in ms between heartbeats (a comment and a `heartbeat` event) on every stream. @default 15000 */
  heartbeatMs?: number;
  /** Reconnection delay in ms that the `retry:` line suggests to stream clients. @default 1000 */
  retryMs?: number;
  /** Time in ms that a finished job stays readable before it is evicted. @default 60000 */
  finishedTtlMs?: number;
  limits?: MockServerLimits;
  /**
   * Origins allowed to call the server from a browser. `[]` sends no CORS headers, so only
   * same-origin pages can read responses. `'*'` allows every origin and is meant for demos.
   * @default []
   */
  corsOrigins?: string[] | '*';
  /** Logger for requests, streams and faults. `false` or omitted: a silent logger. */
  logger?: Logger | false;
  /** Whether to mount the `/__mock` fault-injection routes. @default true */
  faults?: boolean;
  /** Directory of static files served at `/`, after the API routes. */
  staticDir?: string;
}

/** Options after defaults are applied and every value is validated. */
export interface ResolvedOptions {
  jobTimeMs: number;
  heartbeatMs: number;
  retryMs: number;
  finishedTtlMs: number;
  limits: Required<MockServerLimits>;
  corsOrigins: string[] | '*';
  logger: Logger;
  faults: boolean;
  staticDir: string | undefined;
}

/** Maximum job duration in ms (one hour), for options and for `POST /create` bodies alike. */
export const MAX_JOB_DURATION_MS = 3_600_000;

const ONE_DAY_MS = 86_400_000;

/**
 * Merges `options` with the defaults and validates every value.
 * Throws a RangeError or TypeError that names the option, the value and the accepted range.
 */
export function resolveOptions(
  options: MockServerOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedOptions {
  const limits = options.limits ?? {};

  return {
    jobTimeMs: integerOption(
      'jobTimeMs',
      options.jobTimeMs ?? jobTimeFromEnv(env),
      1,
      MAX_JOB_DURATION_MS,
    ),
    heartbeatMs: integerOption('heartbeatMs', options.heartbeatMs ?? 15_000, 1, ONE_DAY_MS),
    retryMs: integerOption('retryMs', options.retryMs ?? 1000, 0, ONE_DAY_MS),
    finishedTtlMs: integerOption('finishedTtlMs', options.finishedTtlMs ?? 60_000, 0, ONE_DAY_MS),
    limits: {
      bodyBytes: integerOption('limits.bodyBytes', limits.bodyBytes ?? 1024, 1, 10 * 1024 * 1024),
      maxIdLength: integerOption('limits.maxIdLength', limits.maxIdLength ?? 64, 1, 1024),
      maxBatchIds: integerOption('limits.maxBatchIds', limits.maxBatchIds ?? 100, 1, 10_000),
      maxStreamsPerClient: integerOption(
        'limits.maxStreamsPerClient',
        limits.maxStreamsPerClient ?? 8,
        1,
        100_000,
      ),
      replayLogSize: integerOption(
        'limits.replayLogSize',
        limits.replayLogSize ?? 1000,
        0,
        1_000_000,
      ),
    },
    corsOrigins: corsOriginsOption(options.corsOrigins ?? []),
    logger:
      options.logger === undefined || options.logger === false ? silentLogger() : options.logger,
    faults: options.faults ?? true,
    staticDir: options.staticDir,
  };
}

/** Creates a logger that writes nothing, the default for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

function jobTimeFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env.JOB_TIME;
  if (raw === undefined || raw === '') {
    return 3000;
  }

  const value = /^\d{1,10}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(value) || value < 1 || value > MAX_JOB_DURATION_MS) {
    throw new RangeError(
      `Invalid JOB_TIME environment variable "${raw}": expected an integer number of ` +
        `milliseconds from 1 to ${MAX_JOB_DURATION_MS}`,
    );
  }
  return value;
}

function integerOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid option ${name}: ${String(value)}. Expected an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function corsOriginsOption(value: unknown): string[] | '*' {
  if (value === '*') {
    return '*';
  }
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Invalid option corsOrigins: ${String(value)}. Expected '*' or an array of origins`,
    );
  }

  return value.map((origin: unknown) => {
    if (typeof origin !== 'string' || !isOrigin(origin)) {
      throw new TypeError(
        `Invalid corsOrigins entry ${JSON.stringify(origin)}: expected an origin such as ` +
          `http://localhost:5173 (scheme, host and optional port, without a path)`,
      );
    }
    return origin;
  });
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}
