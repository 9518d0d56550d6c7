import {
  BehaviorSubject,
  defer,
  distinctUntilChanged,
  EMPTY,
  filter,
  firstValueFrom,
  map,
  merge,
  mergeMap,
  type MonoTypeOperatorFunction,
  Observable,
  observeOn,
  of,
  share,
  startWith,
  Subject,
  Subscription,
  switchMap,
  tap,
  throwError,
} from 'rxjs';
import {
  AbortError,
  DisposedError,
  type HeyGenError,
  InvalidArgumentError,
  JobFailedError,
  ListenerNotFoundError,
  type MessageParseError,
  HeyGenError as BaseError,
  SSEError,
  TimeoutError,
} from './errors';
import { HttpClient } from './internal/http';
import { isJobId } from './internal/job';
import { JobHub } from './internal/job-hub';
import {
  normalizeMode,
  normalizeOptions,
  rejectUnknownKeys,
  type Settings,
} from './internal/options';
import { latestJobStates } from './operators/latest-job-states';
import { switchTransport } from './operators/switch-transport';
import { fetchJobs$, type FetchJobsConfig } from './transports/fetch-jobs';
import { pollTransport } from './transports/poll';
import { type SseEvent, sseConnection } from './transports/sse';
import type { TransportEvent } from './transports/transport';
import {
  type ActiveTransport,
  type CreateJobOptions,
  type ErrorCallback,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  type Job,
  type StatusCallback,
  type WaitForJobOptions,
} from './types';

const { SSE, POLL } = HeyGenStatusListenerMode;

/** Backoff of batched status requests after transient errors, in ms. */
const REQUEST_RETRY = { minDelayMs: 250, maxDelayMs: 30_000 };

/** Finished jobs remembered for late subscribers beyond the watched ones. */
const MAX_UNWATCHED_JOBS = 1000;

/** Distinct malformed server messages remembered, so that each is reported once. */
const MAX_REMEMBERED_PARSE_ERRORS = 100;

/**
 * Client of the job API. Job status is an Observable fed by one Server-Sent-Events connection for
 * every job of the client, or by batched polling. The client moves subscribers between the two without
 * dropping a subscriber or a status.
 *
 * @example
 * ```ts
 * const heygen = new HeyGenAPI({ url: 'http://127.0.0.1:3000', mode: HeyGenStatusListenerMode.AUTO });
 * const jobId = await heygen.createJob();
 * heygen.jobStatus$(jobId).subscribe((job) => console.log(job.status, job.progress));
 * const finalJob = await heygen.waitForJob(jobId, { timeout: 60_000 });
 * heygen.dispose();
 * ```
 */
export class HeyGenAPI {
  /** Id that owns this client's jobs, sent with every request. Keep it to find the jobs after a reload. */
  readonly clientId: string;

  /**
   * The active transport: `SSE` or `POLL`, never `AUTO`. It replays the current value to each new
   * subscriber, and changes on `changeBackend`, on fallback and on recovery.
   */
  readonly mode$: Observable<ActiveTransport>;

  /**
   * Errors that end no subscription: server messages that are not jobs ({@link MessageParseError}) and
   * exceptions thrown by `listen` callbacks. Each is also logged when logging is on.
   */
  readonly errors$: Observable<HeyGenError | Error>;

  readonly #settings: Settings;
  readonly #http: HttpClient;
  readonly #hub: JobHub;
  readonly #requestedMode$: BehaviorSubject<HeyGenStatusListenerMode>;
  readonly #activeMode$: BehaviorSubject<ActiveTransport>;
  readonly #errorSubject = new Subject<HeyGenError | Error>();
  readonly #listeners = new Map<string, Subscription>();
  /** Messages of recent {@link MessageParseError}s, so that a repeated message is reported once. */
  readonly #reportedParseErrors = new Set<string>();
  #disposed = false;

  /**
   * @throws InvalidArgumentError when an option is invalid; the message names the option, the value
   *   and the rule.
   */
  constructor(options: HeyGenAPIOptions) {
    this.#settings = normalizeOptions(options);
    this.clientId = this.#settings.clientId;
    this.#http = new HttpClient({
      baseUrl: this.#settings.baseUrl,
      clientId: this.clientId,
      fetch: this.#settings.fetch,
      timeoutMs: this.#settings.requestTimeoutMs,
    });
    this.#hub = new JobHub({
      events: () => this.#transportEvents$(),
      maxUnwatchedJobs: MAX_UNWATCHED_JOBS,
    });
    this.#requestedMode$ = new BehaviorSubject(this.#settings.mode);
    this.#activeMode$ = new BehaviorSubject(this.#initialTransport(this.#settings.mode));
    this.mode$ = this.#activeMode$.pipe(distinctUntilChanged());
    this.errors$ = this.#errorSubject.asObservable();
  }

  /** The active transport right now; see {@link HeyGenAPI.mode$}. */
  get mode(): ActiveTransport {
    return this.#activeMode$.value;
  }

  /**
   * Creates a job and resolves with its id.
   *
   * @param options mock-only job settings, and an `AbortSignal`.
   * @throws (rejects) InvalidArgumentError for bad options, AbortError on abort, HttpError or
   *   NetworkError when the request fails, DisposedError after `dispose()`.
   */
  async createJob(options: CreateJobOptions = {}): Promise<string> {
    const job = await this.createJobRecord(options);
    return job.id;
  }

  /** Like {@link HeyGenAPI.createJob}, but resolves with the whole job as the server created it. */
  async createJobRecord(options: CreateJobOptions = {}): Promise<Job> {
    this.#assertNotDisposed('createJob');
    const body = validateCreateOptions(options);
    const job = await firstValueFrom(
      this.#http.createJob$(body).pipe(untilAborted(options.signal, 'Creating a job')),
    );
    this.#hub.remember(job);
    return job;
  }

  /**
   * Fetches the current state of one job with a single request.
   * @throws (rejects) JobNotFoundError for an unknown or foreign id, InvalidArgumentError for a
   *   malformed id, HttpError or NetworkError when the request fails.
   */
  async getJob(jobId: string): Promise<Job> {
    this.#assertNotDisposed('getJob');
    assertJobId(jobId);
    return firstValueFrom(this.#http.getJob$(jobId));
  }

  /**
   * Observable of one job's states: each distinct state (status or progress) once, in order.
   *
   * It completes right after `completed`, and errors with {@link JobFailedError} right after emitting
   * `failed`, with {@link JobNotFoundError} for an unknown or foreign job, with {@link SSEError} when SSE
   * fails without `fallback`, and with {@link AuthError} when the server rejects the client id. It is
   * lazy: network work starts with the first subscriber of any job and stops when the last one leaves.
   * Subscribers of one job share one source, and a late subscriber first gets the latest known state.
   */
  jobStatus$(jobId: string): Observable<Job> {
    return defer(() => {
      this.#assertNotDisposed('jobStatus$');
      assertJobId(jobId);
      // Each subscriber gets its own watcher on the hub, so a late subscriber starts from the latest
      // known state. The hub shares one transport pipeline among all of them.
      const states$ = this.#hub.watch(jobId);
      const { scheduler } = this.#settings;
      return scheduler === undefined ? states$ : states$.pipe(observeOn(scheduler));
    });
  }

  /**
   * Waits for a job to finish, and resolves with its final state.
   *
   * @throws (rejects) JobFailedError when the job fails, AbortError when `signal` aborts, TimeoutError
   *   after `timeout` ms, and every error of {@link HeyGenAPI.jobStatus$}.
   */
  waitForJob(jobId: string, options: WaitForJobOptions = {}): Promise<Job> {
    try {
      this.#assertNotDisposed('waitForJob');
      checkWaitOptions(options);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const { signal, timeout } = options;
    const operation = `Waiting for job ${jobId}`;
    return new Promise<Job>((resolve, reject) => {
      let last: Job | undefined;
      const subscription = new Subscription();
      const settle = (action: () => void): void => {
        subscription.unsubscribe();
        action();
      };

      if (signal !== undefined) {
        if (signal.aborted) {
          reject(new AbortError(operation, { cause: signal.reason }));
          return;
        }
        const onAbort = (): void =>
          settle(() => reject(new AbortError(operation, { cause: signal.reason })));
        signal.addEventListener('abort', onAbort, { once: true });
        subscription.add(() => signal.removeEventListener('abort', onAbort));
      }
      if (timeout !== undefined) {
        const timer = setTimeout(
          () => settle(() => reject(new TimeoutError(operation, timeout))),
          timeout,
        );
        subscription.add(() => clearTimeout(timer));
      }

      subscription.add(
        this.jobStatus$(jobId).subscribe({
          next: (job) => {
            last = job;
          },
          error: (error: unknown) => settle(() => reject(error)),
          complete: () =>
            settle(() =>
              last === undefined
                ? reject(new BaseError(`${operation}: the status stream ended without a status`))
                : resolve(last),
            ),
        }),
      );
    });
  }

  /**
   * Calls `callback` with each state of the job until it finishes. A second `listen` for the same job
   * replaces the first.
   *
   * @param onError receives the error that ends the listener (not `JobFailedError`: the callback
   *   already saw `failed`). Without it, the error goes to the logger and {@link HeyGenAPI.errors$}.
   */
  listen(jobId: string, callback: StatusCallback, onError?: ErrorCallback): void {
    this.#assertNotDisposed('listen');
    assertJobId(jobId);
    if (typeof callback !== 'function') {
      throw new InvalidArgumentError(
        'callback',
        callback,
        'Pass a function (jobId, status, job) => void.',
      );
    }
    if (onError !== undefined && typeof onError !== 'function') {
      throw new InvalidArgumentError(
        'onError',
        onError,
        'Pass a function (jobId, error) => void, or leave it out.',
      );
    }
    this.#listeners.get(jobId)?.unsubscribe();
    this.#listeners.delete(jobId);

    // The watch can end while subscribe() runs (a known final state, a malformed id). The handlers
    // therefore use `listener`, which exists before subscribing, and record the end in `ended`.
    const listener = new Subscription();
    let ended = false;
    const subscription = this.jobStatus$(jobId).subscribe({
      next: (job) => this.#invokeCallback(() => callback(job.id, job.status, job), jobId),
      error: (error: unknown) => {
        ended = true;
        this.#removeListener(jobId, listener);
        if (error instanceof JobFailedError) return;
        if (onError === undefined) {
          this.#report(
            error instanceof Error ? error : new Error(String(error)),
            `Listener of job ${jobId} ended with an error`,
          );
          return;
        }
        this.#invokeCallback(
          () => onError(jobId, error instanceof Error ? error : new Error(String(error))),
          jobId,
        );
      },
      complete: () => {
        ended = true;
        this.#removeListener(jobId, listener);
      },
    });
    listener.add(subscription);
    if (!ended) this.#listeners.set(jobId, listener);
  }

  /**
   * Stops the listener of a job.
   * @throws ListenerNotFoundError when the job has no active listener, DisposedError after `dispose()`.
   */
  stop(jobId: string): void {
    this.#assertNotDisposed('stop');
    const subscription = this.#listeners.get(jobId);
    if (subscription === undefined) throw new ListenerNotFoundError(jobId);
    this.#listeners.delete(jobId);
    subscription.unsubscribe();
  }

  /**
   * Switches the transport while keeping every subscriber and listener. AUTO picks SSE when an
   * EventSource constructor exists, otherwise POLL.
   * @throws InvalidArgumentError for a value that is not a {@link HeyGenStatusListenerMode}.
   */
  changeBackend(mode: HeyGenStatusListenerMode): void {
    this.#assertNotDisposed('changeBackend');
    const checked = normalizeMode(mode, 'mode');
    this.#settings.logger.info('Transport change requested', { mode: checked });
    this.#requestedMode$.next(checked);
    // A running pipeline reports the switch itself. While no job is watched none runs, so `mode`
    // takes the transport that the next pipeline will start with.
    if (this.#hub.watchedIds().length === 0)
      this.#setActiveTransport(this.#initialTransport(checked));
  }

  /**
   * Closes every connection, clears every timer, and ends every subscription with a
   * {@link DisposedError}. Calling it again does nothing.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#settings.logger.info('Disposing the client');
    for (const subscription of this.#listeners.values()) subscription.unsubscribe();
    this.#listeners.clear();
    this.#hub.failAll(new DisposedError('Watching the job stopped'));
    this.#requestedMode$.complete();
    this.#activeMode$.complete();
    this.#errorSubject.complete();
  }

  /** Builds the pipeline the hub runs while jobs are watched; the README's "How it works" describes it. */
  #transportEvents$(): Observable<TransportEvent> {
    const sse$ = this.#sseConnection$();
    const fetchConfig = this.#fetchConfig();
    const snapshot$ = defer(() => {
      const ids = this.#hub.takeSnapshotIds();
      return ids.length === 0 ? EMPTY : fetchJobs$(ids, fetchConfig);
    });

    const selectTransport = (mode: ActiveTransport): Observable<TransportEvent> =>
      mode === POLL
        ? pollTransport({
            ...fetchConfig,
            intervalMs: this.#settings.pollIntervalMs,
            watchedIds: () => this.#hub.watchedIds(),
          })
        : this.#sseJobEvents$(sse$ ?? EMPTY, snapshot$, fetchConfig);

    // A switch to SSE reads the watched jobs once, because the stream's own snapshot went by while
    // polling was active. The first transport needs no such read: a new stream starts with the
    // server's snapshot of every unfinished job, and unknown jobs get a lookup. POLL's first poll is
    // its own snapshot.
    let switches = 0;
    const snapshotAfterSwitch = (mode: ActiveTransport): Observable<TransportEvent> => {
      switches += 1;
      return mode === SSE && switches > 1 ? snapshot$ : EMPTY;
    };

    return this.#activeTransport$(sse$).pipe(
      switchTransport(selectTransport, snapshotAfterSwitch),
      latestJobStates(this.#hub.known),
    );
  }

  /**
   * The transport to use from moment to moment. With `fallback`, SSE health decides: a failed
   * connection attempt or a stall moves to POLL, and the next successful opening moves back.
   */
  #activeTransport$(sse$: Observable<SseEvent> | undefined): Observable<ActiveTransport> {
    const { fallback } = this.#settings;
    return this.#requestedMode$.pipe(
      map((mode): ActiveTransport => {
        if (mode === POLL) return POLL;
        return mode === HeyGenStatusListenerMode.AUTO && sse$ === undefined ? POLL : SSE;
      }),
      distinctUntilChanged(),
      switchMap((mode): Observable<ActiveTransport> => {
        if (mode === POLL) return of(POLL);
        if (sse$ === undefined) {
          const message =
            'SSE mode needs an EventSource: pass the EventSource option (on Node.js 20, the class of the "eventsource" package) or use AUTO or POLL';
          if (fallback) {
            this.#settings.logger.warn(`${message}; polling instead`);
            return of(POLL);
          }
          return throwError(() => new SSEError(message, this.#settings.baseUrl));
        }
        if (!fallback) return of(SSE);
        return sse$.pipe(
          filter((event) => event.kind !== 'job'),
          map((event): ActiveTransport => (event.kind === 'open' ? SSE : POLL)),
          startWith<ActiveTransport>(SSE),
          distinctUntilChanged(),
        );
      }),
      distinctUntilChanged(),
      tap((mode) => this.#setActiveTransport(mode)),
    );
  }

  /** One shared SSE connection per pipeline run, or `undefined` without an EventSource constructor. */
  #sseConnection$(): Observable<SseEvent> | undefined {
    const { EventSource } = this.#settings;
    if (EventSource === undefined) return undefined;
    return sseConnection({
      baseUrl: this.#settings.baseUrl,
      clientId: this.clientId,
      EventSource,
      retry: this.#settings.sseRetry,
      connectTimeoutMs: this.#settings.requestTimeoutMs,
      keepProbing: this.#settings.fallback,
      logger: this.#settings.logger,
      onParseError: (error) => this.#reportParseError(error),
    }).pipe(share());
  }

  /**
   * Job events while SSE is the active transport: the stream's jobs, a snapshot after each reconnect,
   * and one batched lookup for newly watched jobs whose state is not known yet.
   */
  #sseJobEvents$(
    sse$: Observable<SseEvent>,
    snapshot$: Observable<TransportEvent>,
    fetchConfig: FetchJobsConfig,
  ): Observable<TransportEvent> {
    // A job event of the stream is already a transport event: it passes through as it is, because
    // this is the path of every status change.
    const jobs$ = sse$.pipe(
      filter((event): event is SseEvent & TransportEvent => event.kind === 'job'),
    );
    const resnapshots$ = sse$.pipe(
      filter((event) => event.kind === 'open' && event.reconnect),
      mergeMap(() => snapshot$),
    );
    const lookups$ = this.#hub.added$.pipe(mergeMap((ids) => fetchJobs$(ids, fetchConfig)));
    return merge(jobs$, resnapshots$, lookups$);
  }

  #fetchConfig(): FetchJobsConfig {
    return {
      http: this.#http,
      retry: REQUEST_RETRY,
      logger: this.#settings.logger,
      onParseError: (error) => this.#reportParseError(error),
    };
  }

  #initialTransport(mode: HeyGenStatusListenerMode): ActiveTransport {
    if (mode === POLL) return POLL;
    if (mode === SSE)
      return this.#settings.EventSource === undefined && this.#settings.fallback ? POLL : SSE;
    return this.#settings.EventSource === undefined ? POLL : SSE;
  }

  #setActiveTransport(mode: ActiveTransport): void {
    const previous = this.#activeMode$.value;
    if (previous !== mode) {
      this.#settings.logger.info(`Transport changed from ${previous} to ${mode}`, {
        from: previous,
        to: mode,
      });
    }
    this.#activeMode$.next(mode);
  }

  #invokeCallback(call: () => void, jobId: string): void {
    try {
      call();
    } catch (error) {
      this.#report(
        error instanceof Error ? error : new Error(String(error)),
        `A callback for job ${jobId} threw`,
      );
    }
  }

  #report(error: Error, message: string): void {
    this.#settings.logger.error(message, { error });
    this.#errorSubject.next(error);
  }

  /**
   * Reports a server message that is not a job, once: the same malformed job returned by every poll,
   * or replayed after an SSE reconnect, is reported the first time only.
   */
  #reportParseError(error: MessageParseError): void {
    const key = error.message;
    if (this.#reportedParseErrors.has(key)) return;
    if (this.#reportedParseErrors.size >= MAX_REMEMBERED_PARSE_ERRORS) {
      // Sets iterate in insertion order, so this drops the oldest message.
      const oldest = this.#reportedParseErrors.values().next().value as string;
      this.#reportedParseErrors.delete(oldest);
    }
    this.#reportedParseErrors.add(key);
    this.#report(error, 'Skipped a server message that is not a job');
  }

  #removeListener(jobId: string, subscription: Subscription): void {
    if (this.#listeners.get(jobId) === subscription) this.#listeners.delete(jobId);
  }

  #assertNotDisposed(method: string): void {
    if (this.#disposed) throw new DisposedError(`HeyGenAPI.${method}() failed`);
  }
}

function assertJobId(jobId: unknown): asserts jobId is string {
  if (!isJobId(jobId)) {
    throw new InvalidArgumentError(
      'jobId',
      jobId,
      'A job id is 1 to 64 characters of A-Z a-z 0-9 _ -: pass the id that createJob() resolved with.',
    );
  }
}

/** @throws InvalidArgumentError for options of `waitForJob` that are not valid. */
function checkWaitOptions(options: WaitForJobOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'options',
      options,
      'Pass an object such as { timeout: 60000 }.',
    );
  }
  rejectUnknownKeys('options', options, ['signal', 'timeout']);
  const { signal, timeout } = options;
  if (
    timeout !== undefined &&
    !(typeof timeout === 'number' && timeout > 0 && timeout <= 2 ** 31 - 1)
  ) {
    throw new InvalidArgumentError(
      'options.timeout',
      timeout,
      'Pass a number of ms from 1 to 2147483647.',
    );
  }
  checkSignal(signal);
}

/** @throws InvalidArgumentError unless `signal` is undefined or looks like an AbortSignal. */
function checkSignal(signal: unknown): void {
  if (signal === undefined) return;
  const candidate = signal as Partial<AbortSignal> | null;
  const isSignal =
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function';
  if (!isSignal) {
    throw new InvalidArgumentError(
      'options.signal',
      signal,
      'Pass an AbortSignal, such as new AbortController().signal.',
    );
  }
}

function validateCreateOptions(
  options: CreateJobOptions,
): { durationMs?: number; outcome?: 'completed' | 'failed' } | undefined {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(
      'options',
      options,
      'Pass an object such as { durationMs: 3000 }.',
    );
  }
  rejectUnknownKeys('options', options, ['durationMs', 'outcome', 'signal']);
  checkSignal(options.signal);
  const { durationMs, outcome } = options;
  if (
    durationMs !== undefined &&
    !(Number.isInteger(durationMs) && durationMs >= 1 && durationMs <= 3_600_000)
  ) {
    throw new InvalidArgumentError(
      'options.durationMs',
      durationMs,
      'Pass an integer number of ms from 1 to 3600000.',
    );
  }
  if (outcome !== undefined && outcome !== 'completed' && outcome !== 'failed') {
    throw new InvalidArgumentError('options.outcome', outcome, 'Pass "completed" or "failed".');
  }
  if (durationMs === undefined && outcome === undefined) return undefined;
  return {
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(outcome === undefined ? {} : { outcome }),
  };
}

/**
 * Ends the source with an {@link AbortError} when the signal aborts, and unsubscribes it, which aborts
 * its HTTP request.
 */
function untilAborted<T>(
  signal: AbortSignal | undefined,
  operation: string,
): MonoTypeOperatorFunction<T> {
  return (source) =>
    signal === undefined
      ? source
      : new Observable<T>((subscriber) => {
          if (signal.aborted) {
            subscriber.error(new AbortError(operation, { cause: signal.reason }));
            return undefined;
          }
          const onAbort = (): void =>
            subscriber.error(new AbortError(operation, { cause: signal.reason }));
          signal.addEventListener('abort', onAbort, { once: true });
          const subscription = source.subscribe(subscriber);
          return () => {
            signal.removeEventListener('abort', onAbort);
            subscription.unsubscribe();
          };
        });
}
