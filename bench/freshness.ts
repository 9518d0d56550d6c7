/**
 * Scenario 1, freshness: the time from a job's status change on the server (`updatedAt`) to the
 * subscriber's `next`, for SSE and for batched polling at 1000 ms.
 */
import type { Subscription } from 'rxjs';
import type { HeyGenAPI } from '../src';
import { formatMs, formatSpread, type Goal, type ScenarioResult, type Table } from './report';
import type { ServerProcess } from './server-process';
import { latencySpreads } from './stats';
import {
  calibrateClock,
  changedAtMs,
  createClient,
  HeyGenStatusListenerMode,
  newClientId,
  spreadOver,
  waitFor,
  withTimeout,
} from './support';

const SSE = HeyGenStatusListenerMode.SSE;
const POLL = HeyGenStatusListenerMode.POLL;
type Mode = typeof SSE | typeof POLL;

export interface FreshnessOptions {
  readonly runs: number;
  readonly jobCounts: readonly number[];
}

/** Latency samples of one mode and job count, per run, in ms. */
export interface FreshnessSeries {
  readonly mode: Mode;
  readonly jobs: number;
  /** Whether every job was created at once, instead of spread over {@link SPREAD_MS}. */
  readonly burst: boolean;
  readonly runs: number[][];
}

export const POLL_INTERVAL_MS = 1000;

/**
 * Job run times. SSE latency does not depend on them, so SSE jobs are short. A poll returns only the
 * latest state, so the status changes of a poll job (one every fifth of its run time) must be further
 * apart than the poll period. Otherwise polls would skip changes, and the figures would read too fresh.
 */
const JOB_MS: Record<Mode, number> = { [SSE]: 2000, [POLL]: 5 * (POLL_INTERVAL_MS + 50) };

/**
 * Jobs are created over this window, in up to {@link MAX_SLOTS} equal groups, so their status
 * changes fall at every phase of the poll period.
 */
const SPREAD_MS = POLL_INTERVAL_MS;
const MAX_SLOTS = 50;

/** A job that keeps the client's transport running between measured jobs, longer than any run. */
const KEEPALIVE_JOB_MS = 120_000;

export async function measureFreshness(
  server: ServerProcess,
  options: FreshnessOptions,
): Promise<{ result: ScenarioResult; series: FreshnessSeries[] }> {
  const series: FreshnessSeries[] = [];
  const largest = Math.max(...options.jobCounts);
  const config = (mode: Mode, jobs: number, burst: boolean) => ({ mode, jobs, burst });
  const configs = [
    ...options.jobCounts.map((jobs) => config(SSE, jobs, false)),
    config(SSE, largest, true),
    ...options.jobCounts.map((jobs) => config(POLL, jobs, false)),
  ];
  for (const { mode, jobs, burst } of configs) {
    const runs: number[][] = [];
    for (let run = 0; run < options.runs; run += 1) {
      runs.push(await measureRun(server, mode, jobs, burst ? 0 : SPREAD_MS));
    }
    series.push({ mode, jobs, burst, runs });
  }
  return { result: toResult(series, options.runs), series };
}

/**
 * Runs one client with `jobs` concurrent jobs, created over `spreadMs`, and returns the latency of
 * each delivered change.
 */
async function measureRun(
  server: ServerProcess,
  mode: Mode,
  jobs: number,
  spreadMs: number,
): Promise<number[]> {
  const clientId = newClientId(`fresh-${mode.toLowerCase()}-${jobs}`);
  const client = createClient(server.url, mode, { clientId, pollInterval: POLL_INTERVAL_MS });
  const subscriptions: Subscription[] = [];
  try {
    await startTransport(server, client, mode);

    const clock = calibrateClock();
    const samples: number[] = [];
    let finished = 0;
    let resolveAll: () => void = () => undefined;
    const allFinished = new Promise<void>((resolve) => {
      resolveAll = resolve;
    });
    const errors: unknown[] = [];
    const onFinish = (): void => {
      finished += 1;
      if (finished === jobs) resolveAll();
    };
    const onError = (error: unknown): void => {
      errors.push(error);
      onFinish();
    };
    const watch = (id: string, subscribedAt: number): void => {
      const subscription = client.jobStatus$(id).subscribe({
        next: (job) => {
          // A state from before the subscription is not a delivery, so it is skipped.
          const changedAt = changedAtMs(job);
          if (job.status !== 'pending' && changedAt >= subscribedAt) {
            samples.push(clock() - changedAt);
          }
        },
        complete: onFinish,
        error: onError,
      });
      subscriptions.push(subscription);
    };

    await spreadOver(jobs, MAX_SLOTS, spreadMs, async (start, end) => {
      const [ids = []] = await server.createJobs({
        clientIds: [clientId],
        perClient: end - start,
        durationMs: JOB_MS[mode],
      });
      const subscribedAt = Math.floor(clock());
      for (const id of ids) watch(id, subscribedAt);
    });

    const timeoutMs = spreadMs + JOB_MS[mode] + 30_000;
    await withTimeout(allFinished, `${jobs} ${mode} jobs to finish`, timeoutMs);
    if (errors.length > 0) {
      throw new Error(
        `${errors.length} of ${jobs} ${mode} jobs ended with an error, the first: ${String(errors[0])}`,
      );
    }
    return samples;
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    client.dispose();
  }
}

/**
 * Starts the client's transport with a long job, so the measured jobs find an open stream, or a poll
 * loop that already runs, as in an app that watches jobs all the time.
 */
async function startTransport(server: ServerProcess, client: HeyGenAPI, mode: Mode): Promise<void> {
  const keepaliveId = await client.createJob({ durationMs: KEEPALIVE_JOB_MS });
  client.jobStatus$(keepaliveId).subscribe({ error: () => undefined });
  await waitFor(
    async () => {
      const traffic = await server.trafficOf(client.clientId);
      return mode === SSE ? traffic.openStreams === 1 : traffic.requests.batch >= 1;
    },
    `the ${mode} transport of client ${client.clientId} to start`,
    10_000,
  );
}

function toResult(series: readonly FreshnessSeries[], runs: number): ScenarioResult {
  const table: Table = {
    title: 'Freshness: server status change to subscriber next, ms (median of runs, min–max)',
    columns: ['transport', 'jobs', 'samples/run', 'p50', 'p99', 'max'],
    rows: series.map(({ mode, jobs, burst, runs: samples }) => {
      const spreads = latencySpreads(samples);
      const transport = mode === SSE ? 'SSE' : `POLL ${POLL_INTERVAL_MS} ms`;
      return [
        burst ? `${transport}, burst` : transport,
        String(jobs),
        formatSpread(spreads.count, (value) => value.toFixed(0)),
        formatSpread(spreads.p50),
        formatSpread(spreads.p99),
        formatSpread(spreads.max),
      ];
    }),
    notes: [
      'With 1 job a run has 5 samples, so its p99 is close to its max. In POLL mode those 5 changes also share one phase against the poll loop, so the 1-job POLL row shows as many phases as runs, not a distribution.',
      '`updatedAt` has 1 ms resolution, so each figure reads up to 1 ms high.',
    ],
  };

  const goals: Goal[] = [];
  const largestSse = series
    .filter((entry) => entry.mode === SSE && !entry.burst)
    .sort((a, b) => b.jobs - a.jobs)[0];
  if (largestSse !== undefined) {
    const p99 = latencySpreads(largestSse.runs).p99;
    goals.push({
      description: `SSE p99 < 20 ms at ${largestSse.jobs} jobs`,
      measured: `p99 ${formatSpread(p99)} ms (worst run ${formatMs(p99.max)})`,
      met: p99.median < 20,
    });
  }

  return {
    title: '1. Freshness',
    method: [
      `One SDK client per run (${runs} runs per row). The server runs in a child process, so client and server each have a core of their own.`,
      'Before the measured jobs, the client watches one long job, so its SSE stream is open (or its poll loop runs) when they start.',
      `The measured jobs are created in the store over IPC, spread evenly over ${SPREAD_MS} ms in up to ${MAX_SLOTS} groups, and the client subscribes to each group as soon as it exists. In the "burst" row every job is created at once, so each of the 5 status changes happens for every job within a few ms: the worst case for queueing.`,
      `SSE jobs run ${JOB_MS[SSE]} ms. Poll jobs run ${JOB_MS[POLL]} ms, so their changes are further apart than the ${POLL_INTERVAL_MS} ms poll interval and no change is skipped.`,
      "Latency = the client's wall clock at `next` (performance.now() calibrated against Date.now()) minus the job's `updatedAt`, which the server stamps with Date.now() of the same machine when the status changes. The `pending` state from before the subscription is not counted.",
    ],
    tables: [table],
    goals,
  };
}
