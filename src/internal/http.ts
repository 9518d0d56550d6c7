import { catchError, map, Observable, throwError } from 'rxjs';
import {
  AuthError,
  HttpError,
  JobNotFoundError,
  MessageParseError,
  NetworkError,
  TimeoutError,
} from '../errors';
import type { FetchLike, Job } from '../types';
import { parseRetryAfter } from './backoff';
import { toJob } from './job';

/** Settings of {@link HttpClient}. */
export interface HttpConfig {
  /** Base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly clientId: string;
  readonly fetch: FetchLike;
  /** Time limit of one request, in ms. */
  readonly timeoutMs: number;
}

/** Response body of the batched status request. */
export interface JobBatch {
  readonly jobs: readonly Job[];
  /** Requested ids that do not exist or belong to another client. */
  readonly missing: readonly string[];
  /** Entries of `jobs` that are not jobs. They are left out of `jobs`, so the other jobs go on. */
  readonly invalid: readonly MessageParseError[];
}

/** Body of `POST /create`. */
export interface CreateJobBody {
  durationMs?: number;
  outcome?: 'completed' | 'failed';
}

/** Maximum length of the excerpt of a non-JSON error body kept in an error message. */
const EXCERPT_LENGTH = 120;

/**
 * Calls the job API. Every method returns a cold Observable: the request starts on subscribe, and
 * unsubscribing aborts it.
 */
export class HttpClient {
  readonly #config: HttpConfig;

  constructor(config: HttpConfig) {
    this.#config = config;
  }

  /** Creates a job owned by this client. */
  createJob$(body: CreateJobBody | undefined): Observable<Job> {
    return this.#request$('POST', '/create', body).pipe(map((value) => toJob(value)));
  }

  /** Fetches one job. Errors with {@link JobNotFoundError} for an unknown or foreign id. */
  getJob$(jobId: string): Observable<Job> {
    return this.#request$('GET', `/status/${encodeURIComponent(jobId)}`).pipe(
      map((value) => toJob(value)),
      catchError((error: unknown) =>
        throwError(() =>
          error instanceof HttpError && error.status === 404 ? new JobNotFoundError(jobId) : error,
        ),
      ),
    );
  }

  /** Fetches many jobs in one request; the caller keeps `ids` within the server's batch limit. */
  getJobs$(ids: readonly string[]): Observable<JobBatch> {
    const query = ids.map(encodeURIComponent).join(',');
    return this.#request$('GET', `/status?ids=${query}`).pipe(map(toBatch));
  }

  #request$(method: string, path: string, body?: object): Observable<unknown> {
    const label = `${method} ${path}`;
    return new Observable<unknown>((subscriber) => {
      const controller = new AbortController();
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        controller.abort();
        subscriber.error(new TimeoutError(label, this.#config.timeoutMs));
      }, this.#config.timeoutMs);

      const headers: Record<string, string> = {
        Accept: 'application/json',
        'X-Client-Id': this.#config.clientId,
      };
      if (body !== undefined) headers['Content-Type'] = 'application/json';

      this.#config
        .fetch(`${this.#config.baseUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: controller.signal,
        })
        .then((response) => readJson(response, label))
        .then(
          (value) => {
            if (settled) return;
            settled = true;
            subscriber.next(value);
            subscriber.complete();
          },
          (error: unknown) => {
            if (settled) return;
            settled = true;
            subscriber.error(
              error instanceof HttpError || error instanceof MessageParseError
                ? error
                : new NetworkError(label, { cause: error }),
            );
          },
        )
        .finally(() => clearTimeout(timer));

      return () => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          controller.abort();
        }
      };
    });
  }
}

/**
 * Returns whether a failed request may succeed when repeated: network errors, timeouts, `408`, `429`, every
 * `5xx`, a `2xx` that was not JSON (an HTML page from a proxy, say), and a JSON response of the wrong
 * shape.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof AuthError) return false;
  if (error instanceof NetworkError || error instanceof TimeoutError) return true;
  if (error instanceof MessageParseError) return true;
  if (error instanceof HttpError) {
    return (
      error.status === 408 || error.status === 429 || error.status >= 500 || error.status < 300
    );
  }
  return false;
}

/** Reads a response body as JSON, and turns any other response into an {@link HttpError}. */
async function readJson(response: Response, label: string): Promise<unknown> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  const isJson = /\bjson\b/i.test(contentType);

  if (!response.ok) {
    const detail = (isJson ? errorMessageOf(text) : undefined) ?? excerpt(text, contentType);
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    const ErrorClass = response.status === 401 || response.status === 403 ? AuthError : HttpError;
    throw new ErrorClass(label, response.status, detail, retryAfterMs);
  }
  if (!isJson) {
    // Never parse a body blindly: a captive portal or proxy may respond 200 with an HTML page.
    throw new HttpError(label, response.status, `expected JSON, got ${excerpt(text, contentType)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new MessageParseError(`invalid JSON in the response to ${label}`, text, { cause: error });
  }
}

function errorMessageOf(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === 'object' && body !== null && 'error' in body) {
      const message = (body as { error: unknown }).error;
      if (typeof message === 'string') return message;
    }
  } catch {
    // Not JSON after all: the caller falls back to an excerpt.
  }
  return undefined;
}

function excerpt(text: string, contentType: string): string {
  const type = contentType === '' ? 'no content type' : contentType;
  const body = text.replace(/\s+/g, ' ').trim().slice(0, EXCERPT_LENGTH);
  return body === '' ? `an empty body (${type})` : `${type}: ${body}`;
}

function toBatch(value: unknown): JobBatch {
  const shape = 'expected {"jobs": [...], "missing": [...]}';
  if (typeof value !== 'object' || value === null) {
    throw new MessageParseError(shape, String(JSON.stringify(value)));
  }
  const { jobs, missing } = value as { jobs?: unknown; missing?: unknown };
  if (!Array.isArray(jobs) || !Array.isArray(missing)) {
    throw new MessageParseError(shape, JSON.stringify(value));
  }
  if (!missing.every((id) => typeof id === 'string')) {
    throw new MessageParseError('field "missing" must contain strings', JSON.stringify(value));
  }
  const valid: Job[] = [];
  const invalid: MessageParseError[] = [];
  for (const entry of jobs as unknown[]) {
    try {
      valid.push(toJob(entry));
    } catch (error) {
      if (!(error instanceof MessageParseError)) throw error;
      invalid.push(error);
    }
  }
  return { jobs: valid, missing, invalid };
}
