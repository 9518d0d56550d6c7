import {
  concatMap,
  from,
  mergeMap,
  type MonoTypeOperatorFunction,
  retry,
  throwError,
  timer,
} from 'rxjs';
import type { Observable } from 'rxjs';
import { HttpError, type MessageParseError } from '../errors';
import { type BackoffRange, backoffDelay, clampDelay } from '../internal/backoff';
import { type HttpClient, isTransient, type JobBatch } from '../internal/http';
import type { Logger } from '../types';
import type { TransportEvent } from './transport';

/** Ids per batched status request: the protocol's upper limit. */
export const MAX_BATCH_IDS = 100;

/** Dependencies of {@link fetchJobs$}. */
export interface FetchJobsConfig {
  readonly http: HttpClient;
  readonly retry: BackoffRange;
  readonly logger: Logger;
  /** Receives each entry of a batch response that is not a job. The other entries go on. */
  readonly onParseError: (error: MessageParseError) => void;
}

/**
 * Fetches the state of `ids` in as few requests as the batch limit allows, and emits one event per job.
 * Each request is retried alone on transient errors, so a failure repeats only that request.
 */
export function fetchJobs$(
  ids: readonly string[],
  config: FetchJobsConfig,
): Observable<TransportEvent> {
  const chunks: string[][] = [];
  for (let start = 0; start < ids.length; start += MAX_BATCH_IDS) {
    chunks.push(ids.slice(start, start + MAX_BATCH_IDS));
  }
  return from(chunks).pipe(
    concatMap((chunk) =>
      config.http
        .getJobs$(chunk)
        .pipe(retryTransient(config.retry, config.logger, 'Batched status request')),
    ),
    mergeMap((batch) => {
      for (const error of batch.invalid) config.onParseError(error);
      return toEvents(batch);
    }),
  );
}

/**
 * Retries the source after transient errors (see {@link isTransient}) with exponential backoff and
 * jitter; a `Retry-After` from the server replaces the backoff delay, clamped to the same range.
 * Other errors pass through at once. The attempt count restarts after each success.
 */
export function retryTransient<T>(
  range: BackoffRange,
  logger: Logger,
  operation: string,
): MonoTypeOperatorFunction<T> {
  return retry({
    resetOnSuccess: true,
    delay: (error: unknown, attempt: number) => {
      if (!isTransient(error)) return throwError(() => error);
      const retryAfterMs = error instanceof HttpError ? error.retryAfterMs : undefined;
      const delayMs =
        retryAfterMs === undefined ? backoffDelay(attempt, range) : clampDelay(retryAfterMs, range);
      logger.warn(`${operation} failed; retrying`, { attempt, delayMs, error });
      return timer(delayMs);
    },
  });
}

function toEvents(batch: JobBatch): TransportEvent[] {
  const events: TransportEvent[] = [];
  for (const job of batch.jobs) events.push({ kind: 'job', job });
  for (const jobId of batch.missing) events.push({ kind: 'missing', jobId });
  return events;
}
