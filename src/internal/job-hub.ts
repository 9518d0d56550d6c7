import { Observable, Subject, type Subscriber, type Subscription } from 'rxjs';
import { JobFailedError, JobNotFoundError } from '../errors';
import type { TransportEvent } from '../transports/transport';
import type { Job } from '../types';
import { isTerminal } from './job';

/** Dependencies of {@link JobHub}. */
export interface JobHubConfig {
  /**
   * Creates the stream of transport events for the watched jobs. The hub subscribes while at least one
   * job is watched, and unsubscribes when the last watcher leaves.
   */
  readonly events: () => Observable<TransportEvent>;
  /** Jobs kept in `known` beyond the watched ones, for late subscribers. Oldest go first. */
  readonly maxUnwatchedJobs: number;
}

/**
 * Fans transport events out to the subscribers of each job, and shares one transport pipeline among
 * every watched job.
 *
 * Contract with each subscriber: it gets the latest known state first, then each newer state, and then
 * completes after `completed`, errors with {@link JobFailedError} after `failed`, or errors with
 * {@link JobNotFoundError} when the server does not know the job. The caller filters duplicates
 * before they reach {@link JobHub.dispatch}, and writes the accepted states into {@link JobHub.known}.
 */
export class JobHub {
  /** Latest accepted state per job id. */
  readonly known = new Map<string, Job>();
  readonly #watchers = new Map<string, Set<Subscriber<Job>>>();
  #pipeline: Subscription | undefined;
  #starting = false;
  /** Newly watched ids without a known state, sent to `added$` together once per microtask. */
  #pendingLookups = new Set<string>();
  #lookupFlushQueued = false;
  readonly #lookups = new Subject<readonly string[]>();

  readonly #config: JobHubConfig;

  constructor(config: JobHubConfig) {
    this.#config = config;
  }

  /** Newly watched ids whose state is unknown, batched per microtask. */
  readonly added$: Observable<readonly string[]> = this.#lookups.asObservable();

  /** Ids with at least one subscriber. */
  watchedIds(): string[] {
    return [...this.#watchers.keys()];
  }

  /**
   * Returns the watched ids for a snapshot request, and drops the pending lookups that the snapshot
   * makes redundant.
   */
  takeSnapshotIds(): string[] {
    this.#pendingLookups.clear();
    return this.watchedIds();
  }

  /** Observable of one job's states, following the contract in the class comment. */
  watch(jobId: string): Observable<Job> {
    return new Observable<Job>((subscriber) => {
      const known = this.known.get(jobId);
      if (known !== undefined) {
        subscriber.next(known);
        if (isTerminal(known.status)) {
          finish(subscriber, known);
          return undefined;
        }
        // A subscriber that wanted one value (`firstValueFrom`, `take(1)`) has already left: adding
        // it would open a transport only to close it again.
        if (subscriber.closed) return undefined;
      }
      return this.#addWatcher(jobId, subscriber, known === undefined);
    });
  }

  /** Records a state learned outside the transports, such as the response to `POST /create`. */
  remember(job: Job): void {
    if (!this.known.has(job.id)) this.known.set(job.id, job);
  }

  /** Delivers one accepted transport event to the subscribers of its job. */
  dispatch(event: TransportEvent): void {
    if (event.kind === 'missing') {
      const subscribers = this.#takeWatchers(event.jobId);
      for (const subscriber of subscribers) subscriber.error(new JobNotFoundError(event.jobId));
      return;
    }
    const { job } = event;
    const subscribers = this.#watchers.get(job.id);
    if (subscribers === undefined) {
      // Unwatched jobs of this client also arrive over SSE; trimming only past twice the limit
      // keeps the cost per event constant.
      if (this.known.size > this.#watchers.size + 2 * this.#config.maxUnwatchedJobs)
        this.#evictExcess();
      return;
    }
    // Copy first: a subscriber that completes leaves the set while the loop runs.
    for (const subscriber of [...subscribers]) {
      subscriber.next(job);
      if (isTerminal(job.status)) finish(subscriber, job);
    }
  }

  /** Errors every subscriber of every job, and stops the pipeline. */
  failAll(error: unknown): void {
    this.#stopPipeline();
    const all = [...this.#watchers.values()].flatMap((subscribers) => [...subscribers]);
    this.#watchers.clear();
    for (const subscriber of all) subscriber.error(error);
  }

  #addWatcher(jobId: string, subscriber: Subscriber<Job>, needsLookup: boolean): () => void {
    let subscribers = this.#watchers.get(jobId);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#watchers.set(jobId, subscribers);
      if (needsLookup) this.#queueLookup(jobId);
    }
    subscribers.add(subscriber);
    this.#startPipeline();

    return () => {
      const current = this.#watchers.get(jobId);
      if (current === undefined) return;
      current.delete(subscriber);
      if (current.size === 0) this.#watchers.delete(jobId);
      if (this.#watchers.size === 0) this.#stopPipeline();
    };
  }

  #takeWatchers(jobId: string): Subscriber<Job>[] {
    const subscribers = this.#watchers.get(jobId);
    if (subscribers === undefined) return [];
    this.#watchers.delete(jobId);
    if (this.#watchers.size === 0) this.#stopPipeline();
    return [...subscribers];
  }

  #queueLookup(jobId: string): void {
    this.#pendingLookups.add(jobId);
    if (this.#lookupFlushQueued) return;
    this.#lookupFlushQueued = true;
    queueMicrotask(() => {
      this.#lookupFlushQueued = false;
      const ids = [...this.#pendingLookups].filter((id) => this.#watchers.has(id));
      this.#pendingLookups.clear();
      if (ids.length > 0) this.#lookups.next(ids);
    });
  }

  #startPipeline(): void {
    if (this.#pipeline !== undefined || this.#starting) return;
    this.#starting = true;
    const pipeline = this.#config.events().subscribe({
      next: (event) => this.dispatch(event),
      error: (error: unknown) => this.failAll(error),
      complete: () => this.#stopPipeline(),
    });
    this.#starting = false;
    // The pipeline may have ended, or lost its last watcher, while it was subscribing.
    if (pipeline.closed || this.#watchers.size === 0) {
      pipeline.unsubscribe();
      return;
    }
    this.#pipeline = pipeline;
  }

  #stopPipeline(): void {
    const pipeline = this.#pipeline;
    this.#pipeline = undefined;
    pipeline?.unsubscribe();
    this.#dropStale();
    this.#evictExcess();
  }

  /** Drops the non-terminal states of unwatched jobs: no transport updates them any more. */
  #dropStale(): void {
    for (const [id, job] of this.known) {
      if (!isTerminal(job.status) && !this.#watchers.has(id)) this.known.delete(id);
    }
  }

  /** Keeps the unwatched entries of `known` within `maxUnwatchedJobs`, dropping the oldest first. */
  #evictExcess(): void {
    let excess = this.known.size - this.#watchers.size - this.#config.maxUnwatchedJobs;
    for (const id of this.known.keys()) {
      if (excess <= 0) break;
      if (this.#watchers.has(id)) continue;
      this.known.delete(id);
      excess -= 1;
    }
  }
}

function finish(subscriber: Subscriber<Job>, job: Job): void {
  if (job.status === 'failed') subscriber.error(new JobFailedError(job));
  else subscriber.complete();
}
