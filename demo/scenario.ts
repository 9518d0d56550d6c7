import {
  catchError,
  concatMap,
  defer,
  EMPTY,
  endWith,
  filter,
  firstValueFrom,
  fromEvent,
  ignoreElements,
  map,
  merge,
  mergeMap,
  type Observable,
  of,
  race,
  share,
  take,
  tap,
  timer,
} from 'rxjs';
import type { ActiveTransport, CreateJobOptions, HeyGenAPI, Job } from '../src';
import type { Display } from './display';
import { FAULT_AT_JOB, JOB_COUNT } from './options';
import type { Timings } from './timings';

/** The fault methods of the in-process mock server that the scenario uses. */
export interface StreamFaults {
  dropStreams(): number;
  refuseStreams(ms: number): void;
  reset(): void;
}

/** Dependencies and settings of {@link runScenario}. */
export interface ScenarioConfig {
  readonly api: HeyGenAPI;
  readonly display: Display;
  readonly timings: Timings;
  /** Fault injection of the in-process server, or `undefined` to skip the SSE outage. */
  readonly faults: StreamFaults | undefined;
  /** Options of each `createJob` call. */
  readonly createOptions: CreateJobOptions;
  /** Ends the scenario early with the outcome `interrupted`. */
  readonly signal: AbortSignal;
}

/** State of one job as the scenario observed it. Times are ms since the display started. */
export interface JobRecord {
  /** Position in creation order, from 1. */
  readonly jobNumber: number;
  /** `job <jobNumber>`, as the log lines and the summary name the job. */
  readonly label: string;
  readonly id: string;
  readonly createdAtMs: number;
  last: Job;
  finishedAtMs: number | undefined;
  /** The error that ended the job's status stream, such as a `JobFailedError`. */
  error: Error | undefined;
}

/** One value of `mode$`: the first is the initial transport. */
export interface TransportChange {
  readonly atMs: number;
  readonly transport: ActiveTransport;
}

/** The SSE outage injected through the mock server. */
export interface OutageRecord {
  readonly injectedAtMs: number;
  readonly droppedStreams: number;
  readonly durationMs: number;
  liftedAtMs: number | undefined;
}

export type ScenarioOutcome = 'finished' | 'timed out' | 'interrupted' | 'failed';

export interface ScenarioResult {
  /** `finished` when every job stream ended, whatever the final statuses. */
  readonly outcome: ScenarioOutcome;
  /**
   * The error that stopped the scenario when the outcome is `failed`, or the abort reason when it
   * is `interrupted`.
   */
  readonly error: unknown;
  readonly jobs: readonly JobRecord[];
  readonly transports: readonly TransportChange[];
  readonly outage: OutageRecord | undefined;
}

/**
 * Runs the demo scenario: creates {@link JOB_COUNT} jobs one creation gap apart and watches each
 * with `jobStatus$`. When job {@link FAULT_AT_JOB} has been created, and `faults` is given, the
 * server drops every event stream and refuses new ones for the outage time, then accepts them
 * again.
 *
 * Resolves when every job's status stream has ended, at the overall time limit, on abort, or when a
 * job cannot be created. It never rejects. Each transport change and status change is logged.
 */
export function runScenario(config: ScenarioConfig): Promise<ScenarioResult> {
  return new Scenario(config).run();
}

class Scenario {
  private readonly jobs: JobRecord[] = [];
  private readonly transports: TransportChange[] = [];
  private outage: OutageRecord | undefined;

  constructor(private readonly config: ScenarioConfig) {}

  async run(): Promise<ScenarioResult> {
    const { api, display, timings, signal } = this.config;
    const modeSubscription = api.mode$.subscribe((transport) => this.recordTransport(transport));
    const errorSubscription = api.errors$.subscribe((error) =>
      display.log('demo', 'warn', 'SDK reported an error', { error }),
    );

    const created$ = timer(0, timings.creationGapMs).pipe(
      take(JOB_COUNT),
      concatMap((index) => this.createJob(index + 1)),
      share(),
    );
    const faults = this.config.faults;
    const outage$ =
      faults === undefined
        ? EMPTY
        : created$.pipe(
            filter((record) => record.jobNumber === FAULT_AT_JOB),
            take(1),
            concatMap(() => this.injectOutage(faults)),
          );
    // merge subscribes the watchers to created$ before the outage, so job 3 is watched before
    // the fault.
    const scenario$: Observable<ScenarioOutcome> = merge(
      created$.pipe(mergeMap((record) => this.watchJob(record))),
      outage$,
    ).pipe(endWith('finished' as const));

    const stopped$ = merge(
      timer(timings.overallTimeoutMs).pipe(map(() => 'timed out' as const)),
      signal.aborted
        ? of('interrupted' as const)
        : fromEvent(signal, 'abort').pipe(map(() => 'interrupted' as const)),
    );

    // The first of the two to emit wins, and race unsubscribes the other, which stops every job
    // watcher and the outage timer.
    let error: unknown;
    const outcome = await firstValueFrom(
      race(scenario$, stopped$).pipe(
        tap((reached) => {
          if (reached === 'interrupted') error = signal.reason;
        }),
        catchError((caught: unknown) => {
          error = caught;
          return of('failed' as const);
        }),
      ),
    );
    modeSubscription.unsubscribe();
    errorSubscription.unsubscribe();
    display.setNote(undefined);
    return {
      outcome,
      error,
      jobs: this.jobs,
      transports: this.transports,
      outage: this.outage,
    };
  }

  private recordTransport(transport: ActiveTransport): void {
    const { display } = this.config;
    const previous = this.transports.at(-1)?.transport;
    this.transports.push({ atMs: display.elapsedMs(), transport });
    display.setTransport(transport);
    if (previous === undefined) display.log('demo', 'info', `Transport is ${transport}`);
    else display.log('demo', 'warn', `Transport changed: ${previous} -> ${transport}`);
  }

  private createJob(jobNumber: number): Observable<JobRecord> {
    const { api, display } = this.config;
    return defer(async () => {
      const label = `job ${jobNumber}`;
      let job: Job;
      try {
        job = await api.createJobRecord(this.config.createOptions);
      } catch (error) {
        display.log('demo', 'error', `${label} could not be created`, { error });
        throw error;
      }
      const record: JobRecord = {
        jobNumber,
        label,
        id: job.id,
        createdAtMs: display.elapsedMs(),
        last: job,
        finishedAtMs: undefined,
        error: undefined,
      };
      this.jobs.push(record);
      display.addJob(label, job);
      display.log('demo', 'info', `${label} created`, { id: job.id, status: job.status });
      return record;
    });
  }

  /** Watches one job until its status stream ends. An error is recorded, and other jobs go on. */
  private watchJob(record: JobRecord): Observable<never> {
    const { api, display } = this.config;
    return api.jobStatus$(record.id).pipe(
      tap((job) => this.recordState(record, job)),
      ignoreElements(),
      catchError((error: unknown) => {
        record.error = error instanceof Error ? error : new Error(String(error));
        record.finishedAtMs ??= display.elapsedMs();
        display.log('demo', 'error', `${record.label} ended with an error`, {
          error: record.error,
        });
        return EMPTY;
      }),
    );
  }

  private recordState(record: JobRecord, job: Job): void {
    const { api, display } = this.config;
    const changed = job.status !== record.last.status || job.progress !== record.last.progress;
    record.last = job;
    if (job.status === 'completed' || job.status === 'failed') {
      record.finishedAtMs ??= display.elapsedMs();
    }
    display.updateJob(record.label, job);

    // jobStatus$ first replays the state that createJobRecord returned. Only changes are logged.
    if (!changed) return;
    const level = job.status === 'failed' ? 'error' : 'info';
    display.log('demo', level, `${record.label} ${job.status}`, {
      progress: `${job.progress}%`,
      transport: api.mode,
    });
  }

  /** Drops and refuses event streams for the outage time, then accepts them again. */
  private injectOutage(faults: StreamFaults): Observable<never> {
    const { display, timings } = this.config;
    return defer(() => {
      // Refuse first, so no reconnection can slip in between the drop and the refusal.
      faults.refuseStreams(timings.outageMs);
      const droppedStreams = faults.dropStreams();
      this.outage = {
        injectedAtMs: display.elapsedMs(),
        droppedStreams,
        durationMs: timings.outageMs,
        liftedAtMs: undefined,
      };
      display.setNote('SSE outage: event streams refused');
      display.log('demo', 'warn', 'Fault injected: event streams dropped and refused', {
        droppedStreams,
        refusedForMs: timings.outageMs,
      });
      return timer(timings.outageMs);
    }).pipe(
      tap(() => {
        faults.reset();
        if (this.outage !== undefined) this.outage.liftedAtMs = display.elapsedMs();
        display.setNote(undefined);
        display.log('demo', 'info', 'Fault lifted: event streams accepted again');
      }),
      ignoreElements(),
    );
  }
}
