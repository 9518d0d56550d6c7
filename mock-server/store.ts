import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { MAX_JOB_DURATION_MS } from './options';
import type { Job } from '../src/types';

/** Final status that a job reaches at the end of its run. */
export type JobOutcome = 'completed' | 'failed';

/** Options of {@link JobStore.createJob}. */
export interface CreateJobOptions {
  /** Total run time in ms, from 1 to 3,600,000. Default: the store's `jobTimeMs`. */
  durationMs?: number;
  /** Final status. Default `'completed'`. */
  outcome?: JobOutcome;
}

/** Events of {@link JobStore}, emitted synchronously. */
export interface JobStoreEvents {
  /** A job was created or changed status or progress. `job` is a new object for every change. */
  change: [clientId: string, job: Job];
  /** A finished job was removed after the finished-job TTL. */
  evict: [clientId: string, jobId: string];
}

interface JobStoreOptions {
  jobTimeMs: number;
  finishedTtlMs: number;
  logger: Logger;
}

interface JobRecord {
  readonly clientId: string;
  job: Job;
  readonly createdAtMs: number;
  readonly durationMs: number;
  readonly outcome: JobOutcome;
  /** Number of steps taken after creation: 1 to 4 are processing, 5 is the terminal status. */
  step: number;
  timer: NodeJS.Timeout | undefined;
}

/** Progress of the processing steps. Step k of 5 happens at k/5 of the run time. */
const PROCESSING_PROGRESS = [0, 25, 50, 75] as const;
const STEP_COUNT = PROCESSING_PROGRESS.length + 1;

const FAILURE_MESSAGE = 'Simulated failure: the job was created with outcome "failed"';

/**
 * In-memory jobs of every client, each driven by a timer from `pending` through `processing`
 * to its outcome. A job has at most one timer at a time: the next step, then its eviction.
 * Call {@link close} to clear every timer.
 *
 * NOTE: jobs per client are not capped. A client that creates jobs in a loop grows memory until
 * its jobs finish and are evicted.
 */
export class JobStore extends EventEmitter<JobStoreEvents> {
  readonly #options: JobStoreOptions;
  readonly #jobsByClient = new Map<string, Map<string, JobRecord>>();
  #jobCount = 0;
  #timerCount = 0;
  #closed = false;

  constructor(options: JobStoreOptions) {
    super();
    this.#options = options;
  }

  /** Number of jobs of every client, finished ones included until they are evicted. */
  get size(): number {
    return this.#jobCount;
  }

  /** Number of step and eviction timers that are scheduled. */
  get timerCount(): number {
    return this.#timerCount;
  }

  /**
   * Creates a `pending` job for `clientId`, emits its first `change` event and starts its timers.
   * Throws a RangeError for an invalid `durationMs` or `outcome`, and an Error after {@link close}.
   */
  createJob(clientId: string, options: CreateJobOptions = {}): Job {
    if (this.#closed) {
      throw new Error('JobStore is closed: createJob() cannot schedule new jobs');
    }
    const durationMs = options.durationMs ?? this.#options.jobTimeMs;
    if (!Number.isInteger(durationMs) || durationMs < 1 || durationMs > MAX_JOB_DURATION_MS) {
      throw new RangeError(
        `Invalid durationMs ${String(durationMs)}: expected an integer from 1 to ${MAX_JOB_DURATION_MS}`,
      );
    }
    const outcome = options.outcome ?? 'completed';
    if (outcome !== 'completed' && outcome !== 'failed') {
      throw new RangeError(`Invalid outcome ${String(outcome)}: expected "completed" or "failed"`);
    }

    const now = Date.now();
    const timestamp = new Date(now).toISOString();
    const record: JobRecord = {
      clientId,
      job: {
        id: randomUUID(),
        status: 'pending',
        progress: 0,
        createdAt: timestamp,
        updatedAt: timestamp,
      },
      createdAtMs: now,
      durationMs,
      outcome,
      step: 0,
      timer: undefined,
    };

    let jobs = this.#jobsByClient.get(clientId);
    if (jobs === undefined) {
      jobs = new Map();
      this.#jobsByClient.set(clientId, jobs);
    }
    jobs.set(record.job.id, record);
    this.#jobCount += 1;

    this.#emitChange(record);
    this.#scheduleNextStep(record);
    return record.job;
  }

  /** Returns the job, or undefined when it does not exist or belongs to another client. */
  get(clientId: string, jobId: string): Job | undefined {
    return this.#jobsByClient.get(clientId)?.get(jobId)?.job;
  }

  /** Returns every job of the client that is not evicted yet, oldest first. */
  list(clientId: string): Job[] {
    const jobs = this.#jobsByClient.get(clientId);
    if (jobs === undefined) {
      return [];
    }
    return Array.from(jobs.values(), (record) => record.job);
  }

  /** Returns the number of jobs of the client that are not evicted yet. */
  countFor(clientId: string): number {
    return this.#jobsByClient.get(clientId)?.size ?? 0;
  }

  /** Clears every timer and removes every job. Idempotent. Later createJob() calls throw. */
  close(): void {
    this.#closed = true;
    for (const jobs of this.#jobsByClient.values()) {
      for (const record of jobs.values()) {
        this.#clearTimer(record);
      }
    }
    this.#jobsByClient.clear();
    this.#jobCount = 0;
  }

  #scheduleNextStep(record: JobRecord): void {
    // Each step is due at a fixed fraction of the run time after creation, so slow timer
    // callbacks do not add up to a longer run.
    const nextStep = record.step + 1;
    const dueAt = record.createdAtMs + (record.durationMs * nextStep) / STEP_COUNT;
    const delayMs = Math.max(0, dueAt - Date.now());

    this.#setTimer(record, delayMs, () => {
      this.#advance(record);
    });
  }

  #advance(record: JobRecord): void {
    record.step += 1;
    const updatedAt = new Date().toISOString();

    if (record.step < STEP_COUNT) {
      const progress = PROCESSING_PROGRESS[record.step - 1] ?? 0;
      record.job = { ...record.job, status: 'processing', progress, updatedAt };
      this.#emitChange(record);
      this.#scheduleNextStep(record);
      return;
    }

    if (record.outcome === 'completed') {
      record.job = { ...record.job, status: 'completed', progress: 100, updatedAt };
    } else {
      // A failed job keeps the progress it had reached, because progress never decreases.
      record.job = { ...record.job, status: 'failed', updatedAt, error: FAILURE_MESSAGE };
    }
    this.#emitChange(record);
    this.#setTimer(record, this.#options.finishedTtlMs, () => {
      this.#evict(record);
    });
  }

  #evict(record: JobRecord): void {
    const jobs = this.#jobsByClient.get(record.clientId);
    if (jobs?.delete(record.job.id) !== true) {
      return;
    }
    this.#jobCount -= 1;
    if (jobs.size === 0) {
      this.#jobsByClient.delete(record.clientId);
    }

    try {
      this.emit('evict', record.clientId, record.job.id);
    } catch (error) {
      this.#logListenerError(error, record, 'evict');
    }
  }

  #emitChange(record: JobRecord): void {
    // A throwing listener must not stop the job, because the steps run in timer callbacks,
    // where nothing else would catch the error.
    try {
      this.emit('change', record.clientId, record.job);
    } catch (error) {
      this.#logListenerError(error, record, 'change');
    }
  }

  #logListenerError(error: unknown, record: JobRecord, event: keyof JobStoreEvents): void {
    this.#options.logger.error(
      { err: error, jobId: record.job.id, event },
      'JobStore listener threw an error',
    );
  }

  #setTimer(record: JobRecord, delayMs: number, callback: () => void): void {
    this.#clearTimer(record);
    this.#timerCount += 1;
    record.timer = setTimeout(() => {
      record.timer = undefined;
      this.#timerCount -= 1;
      callback();
    }, delayMs);
  }

  #clearTimer(record: JobRecord): void {
    if (record.timer !== undefined) {
      clearTimeout(record.timer);
      record.timer = undefined;
      this.#timerCount -= 1;
    }
  }
}
