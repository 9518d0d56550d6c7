/**
 * Scenario 4, fallback gap: how long a client with `fallback: true` goes without fresh status when
 * its SSE stream is cut, and how long it takes to return to SSE once streams are accepted again. It
 * also counts terminal statuses that were lost or delivered twice meanwhile.
 */
import type { Subscription } from 'rxjs';
import type { FetchLike, HeyGenAPI, Job } from '../src';
import { formatMs, type Goal, type ScenarioResult, type Table } from './report';
import type { ServerProcess } from './server-process';
import { spread } from './stats';
import {
  calibrateClock,
  type Clock,
  createClient,
  HeyGenStatusListenerMode,
  isTerminalJob,
  newClientId,
  sleep,
  waitFor,
} from './support';

const SSE = HeyGenStatusListenerMode.SSE;
const POLL = HeyGenStatusListenerMode.POLL;

export interface FallbackOptions {
  readonly cuts: number;
}

/**
 * How long the server refuses new streams after each cut. It is longer than the `retry: 1000` that
 * the server sends, so the EventSource's own reconnection meets the refusal too.
 */
const REFUSE_MS = 1500;
const POLL_INTERVAL_MS = 1000;
/** Pause after the client is back on SSE and before the next cut. */
const SETTLE_MS = 300;
/** A new job starts every this many ms during the whole scenario, each running {@link JOB_MS}. */
const JOB_EVERY_MS = 200;
const JOB_MS = 1500;

/** Timings of one cut, in ms. */
interface CutTiming {
  /** From the cut to the switch of `mode$` to POLL. */
  readonly toPollMode: number;
  /** From the cut to the first successful batched status response in POLL mode. */
  readonly toFirstPoll: number;
  /** From the end of the refusal to the switch of `mode$` back to SSE. */
  readonly backToSse: number;
}

/** States that the subscriber of one job received. */
interface JobRecord {
  terminal: number;
  duplicates: number;
  readonly seen: Set<string>;
  errored: boolean;
}

export async function measureFallback(
  server: ServerProcess,
  options: FallbackOptions,
): Promise<ScenarioResult> {
  const clock = calibrateClock();
  const pollResponses: number[] = [];
  const clientRef: { current?: HeyGenAPI } = {};
  const client = createClient(server.url, SSE, {
    clientId: newClientId('fallback'),
    fallback: true,
    pollInterval: POLL_INTERVAL_MS,
    fetch: recordPollResponses(clock, pollResponses, () => clientRef.current?.mode),
  });
  clientRef.current = client;
  const modeChanges: { mode: string; at: number }[] = [];
  const modeSubscription = client.mode$.subscribe((mode) =>
    modeChanges.push({ mode, at: clock() }),
  );

  const jobs = new Map<string, JobRecord>();
  const subscriptions: Subscription[] = [modeSubscription];
  const load = startLoad(client, jobs, subscriptions);
  try {
    await waitForStream(server, client);
    const cuts: CutTiming[] = [];
    for (let cut = 0; cut < options.cuts; cut += 1) {
      await sleep(SETTLE_MS);
      cuts.push(await measureCut(server, client, clock, modeChanges, pollResponses));
      await waitForStream(server, client);
    }

    await load.stop();
    await waitFor(
      () => [...jobs.values()].every((job) => job.terminal > 0 || job.errored),
      'every job of the fallback scenario to end',
      JOB_MS + 20_000,
    );
    return toResult(cuts, [...jobs.values()], options.cuts);
  } finally {
    await load.stop();
    for (const subscription of subscriptions) subscription.unsubscribe();
    client.dispose();
  }
}

/** Wraps `fetch` to record when each successful batched status response arrives in POLL mode. */
function recordPollResponses(
  clock: Clock,
  times: number[],
  currentMode: () => string | undefined,
): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init);
    if (response.ok && input.includes('/status?ids=') && currentMode() === POLL) {
      times.push(clock());
    }
    return response;
  };
}

/** Creates a job every {@link JOB_EVERY_MS} and records the states its subscriber receives. */
function startLoad(
  client: HeyGenAPI,
  jobs: Map<string, JobRecord>,
  subscriptions: Subscription[],
): { stop: () => Promise<void> } {
  let stopped = false;
  let creating = Promise.resolve();
  const create = async (): Promise<void> => {
    const id = await client.createJob({ durationMs: JOB_MS });
    const record: JobRecord = { terminal: 0, duplicates: 0, seen: new Set(), errored: false };
    jobs.set(id, record);
    subscriptions.push(
      client.jobStatus$(id).subscribe({
        next: (job: Job) => {
          const state = `${job.status}:${job.progress}`;
          if (record.seen.has(state)) record.duplicates += 1;
          record.seen.add(state);
          if (isTerminalJob(job)) record.terminal += 1;
        },
        error: () => {
          record.errored = true;
        },
      }),
    );
  };
  const timer = setInterval(() => {
    if (!stopped) creating = creating.then(create, create);
  }, JOB_EVERY_MS);
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await creating.catch(() => undefined);
    },
  };
}

async function waitForStream(server: ServerProcess, client: HeyGenAPI): Promise<void> {
  await waitFor(
    async () => client.mode === SSE && (await server.trafficOf(client.clientId)).openStreams === 1,
    'the client to be back on an open SSE stream',
    20_000,
  );
}

async function measureCut(
  server: ServerProcess,
  client: HeyGenAPI,
  clock: Clock,
  modeChanges: readonly { mode: string; at: number }[],
  pollResponses: readonly number[],
): Promise<CutTiming> {
  const { cutAt, refuseUntil } = await server.cutStreams(REFUSE_MS);
  const firstAfter = (mode: string, after: number) =>
    modeChanges.find((change) => change.mode === mode && change.at >= after)?.at;

  await waitFor(
    () => pollResponses.some((at) => at >= cutAt),
    'a successful poll after the SSE cut',
    10_000,
    1,
  );
  await waitFor(
    () => firstAfter(SSE, refuseUntil) !== undefined,
    'the client to return to SSE after the refusal',
    20_000,
    1,
  );

  const pollModeAt = firstAfter(POLL, cutAt) ?? Number.NaN;
  const firstPollAt = pollResponses.find((at) => at >= cutAt) ?? Number.NaN;
  const sseAt = firstAfter(SSE, refuseUntil) ?? Number.NaN;
  if (client.mode !== SSE) throw new Error('The client left SSE again right after returning');
  return {
    toPollMode: pollModeAt - cutAt,
    toFirstPoll: firstPollAt - cutAt,
    backToSse: sseAt - refuseUntil,
  };
}

function toResult(
  cuts: readonly CutTiming[],
  jobs: readonly JobRecord[],
  count: number,
): ScenarioResult {
  const lost = jobs.filter((job) => job.terminal === 0 && !job.errored).length;
  const errored = jobs.filter((job) => job.errored).length;
  const doubled = jobs.filter((job) => job.terminal > 1).length;
  const duplicates = jobs.reduce((sum, job) => sum + job.duplicates, 0);
  const row = (label: string, values: number[]): string[] => {
    const figure = spread(values);
    return [label, formatMs(figure.median), formatMs(figure.max), formatMs(figure.min)];
  };

  const gaps: Table = {
    title: `Fallback over ${count} SSE cuts, ms`,
    columns: ['interval', 'median', 'max', 'min'],
    rows: [
      row(
        'cut -> mode$ POLL',
        cuts.map((cut) => cut.toPollMode),
      ),
      row(
        'cut -> first successful poll',
        cuts.map((cut) => cut.toFirstPoll),
      ),
      row(
        'streams accepted again -> mode$ SSE',
        cuts.map((cut) => cut.backToSse),
      ),
    ],
  };
  const delivery: Table = {
    title: 'Delivery during the cuts',
    columns: [
      'jobs',
      'terminal lost',
      'terminal doubled',
      'ended with an error',
      'repeated states',
    ],
    rows: [
      [String(jobs.length), String(lost), String(doubled), String(errored), String(duplicates)],
    ],
  };

  const goals: Goal[] = [
    {
      description: 'Fallback: no terminal status lost or doubled',
      measured: `${lost} lost, ${doubled} doubled, ${errored} errored of ${jobs.length} jobs`,
      met: lost === 0 && doubled === 0 && errored === 0,
    },
  ];

  return {
    title: '4. Fallback gap',
    method: [
      `One SDK client with \`fallback: true\` and a ${POLL_INTERVAL_MS} ms poll interval. A new ${JOB_MS} ms job starts every ${JOB_EVERY_MS} ms for the whole scenario, created with createJob and watched with jobStatus$.`,
      `Each cut makes the server refuse new streams for ${REFUSE_MS} ms and drop every open stream, in one step. The cut time and the end of the refusal are the server's Date.now(), and mode changes and poll responses are timed with the client's calibrated wall clock. A poll counts when a batched status response with HTTP 200 arrives while mode is POLL.`,
      `The client is back on an open stream and ${SETTLE_MS} ms pass before the next cut.`,
    ],
    tables: [gaps, delivery],
    goals,
  };
}
