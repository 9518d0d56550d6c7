/**
 * Scenario 2, request cost: HTTP requests and bytes per completed job, counted by the server, for the
 * SDK's SSE and batched POLL transports and for the two naive baselines.
 */
import { createJobOverHttp, pollJob, streamJob } from './baselines';
import {
  formatBytes,
  formatNumber,
  formatSpread,
  type Goal,
  type ScenarioResult,
  type Table,
} from './report';
import type { ClientTraffic, RouteKind, ServerProcess } from './server-process';
import { spread, type Spread } from './stats';
import {
  createClient,
  HeyGenStatusListenerMode,
  newClientId,
  waitFor,
  withTimeout,
} from './support';

const SSE = HeyGenStatusListenerMode.SSE;
const POLL = HeyGenStatusListenerMode.POLL;

export interface RequestCostOptions {
  readonly runs: number;
  readonly jobCounts: readonly number[];
}

type Transport = 'sdk-sse' | 'sdk-poll' | 'poll-each-job' | 'stream-each-job';

const TRANSPORT_LABELS: Record<Transport, string> = {
  'sdk-sse': 'SDK SSE',
  'sdk-poll': 'SDK POLL (batched)',
  'poll-each-job': 'baseline: poll each job',
  'stream-each-job': 'baseline: EventSource each job',
};

const JOB_MS = 3000;
const POLL_INTERVAL_MS = 1000;

/**
 * Above this many jobs the EventSource-per-job baseline is not run. Every stream carries every job of
 * the client, so its bytes grow with the square of the job count: an estimated 1.1 GB at 1,000 jobs,
 * scaled from the 100-job figure, which would take minutes.
 */
const MAX_STREAM_EACH_JOB = 100;

/** Counters of one transport in one run. */
interface RunCost {
  readonly jobsDone: number;
  readonly traffic: ClientTraffic;
}

/** Status traffic per completed job: everything except `POST /create`, which costs every transport the same. */
function statusRequests(traffic: ClientTraffic): number {
  return sumExceptCreate(traffic.requests);
}

function statusBytes(traffic: ClientTraffic): number {
  return sumExceptCreate(traffic.bytes);
}

function sumExceptCreate(counts: Record<RouteKind, number>): number {
  return counts.status + counts.batch + counts.stream + counts.other;
}

/**
 * Job counts up to this size run together in one round, which saves time. Larger counts run alone,
 * because creating that many jobs at once keeps the client's event loop busy enough to delay other
 * pollers.
 */
const MAX_SHARED_ROUND_JOBS = 100;

export async function measureRequestCost(
  server: ServerProcess,
  options: RequestCostOptions,
): Promise<ScenarioResult> {
  const small = options.jobCounts.filter((jobs) => jobs <= MAX_SHARED_ROUND_JOBS);
  const large = options.jobCounts.filter((jobs) => jobs > MAX_SHARED_ROUND_JOBS);
  const rounds = [...(small.length > 0 ? [small] : []), ...large.map((jobs) => [jobs])];

  const costs = new Map<string, RunCost[]>();
  for (const jobCounts of rounds) {
    for (let run = 0; run < options.runs; run += 1) {
      for (const [key, cost] of await measureRound(server, jobCounts)) {
        costs.set(key, [...(costs.get(key) ?? []), cost]);
      }
    }
  }
  return toResult(costs, options);
}

/**
 * Runs every transport with every job count of the round at once, each pair with its own client id,
 * and returns each pair's counters keyed `transport:jobs`.
 */
async function measureRound(
  server: ServerProcess,
  jobCounts: readonly number[],
): Promise<Map<string, RunCost>> {
  const pairs = jobCounts.flatMap((jobs) =>
    (Object.keys(TRANSPORT_LABELS) as Transport[])
      .filter((transport) => transport !== 'stream-each-job' || jobs <= MAX_STREAM_EACH_JOB)
      .map((transport) => ({
        transport,
        jobs,
        clientId: newClientId(`cost-${transport}-${jobs}`),
      })),
  );

  const done = await withTimeout(
    Promise.all(
      pairs.map(({ transport, jobs, clientId }) =>
        runTransport(server.url, transport, clientId, jobs),
      ),
    ),
    `the request-cost jobs (${jobCounts.join(', ')} per transport) to finish`,
    JOB_MS + 60_000,
  );

  // A closed client's stream ends on the server a moment later, so wait until each one is counted.
  const clientIds = pairs.map((pair) => pair.clientId);
  let traffic: Record<string, ClientTraffic> = {};
  await waitFor(
    async () => {
      traffic = await server.traffic(clientIds);
      return Object.values(traffic).every((entry) => entry.openStreams === 0);
    },
    'the streams of the request-cost clients to close',
    10_000,
  );

  const result = new Map<string, RunCost>();
  pairs.forEach(({ transport, jobs, clientId }, index) => {
    const entry = traffic[clientId];
    if (entry !== undefined) {
      result.set(`${transport}:${jobs}`, { jobsDone: done[index] ?? 0, traffic: entry });
    }
  });
  return result;
}

/**
 * Creates `jobs` jobs at once with one transport, and watches each from the moment its creation
 * returns, as an app would. Resolves with the number of jobs that reached a terminal status.
 */
async function runTransport(
  url: string,
  transport: Transport,
  clientId: string,
  jobs: number,
): Promise<number> {
  if (transport === 'poll-each-job' || transport === 'stream-each-job') {
    const watches = Array.from({ length: jobs }, async () => {
      const id = await createJobOverHttp(url, clientId, JOB_MS);
      if (transport === 'poll-each-job') await pollJob(url, clientId, id, POLL_INTERVAL_MS);
      else await streamJob(url, clientId, id);
    });
    return countFulfilled(watches);
  }

  const client = createClient(url, transport === 'sdk-sse' ? SSE : POLL, {
    clientId,
    pollInterval: POLL_INTERVAL_MS,
  });
  try {
    const watches = Array.from({ length: jobs }, async () => {
      const id = await client.createJob({ durationMs: JOB_MS });
      await client.waitForJob(id);
    });
    return await countFulfilled(watches);
  } finally {
    client.dispose();
  }
}

async function countFulfilled(promises: readonly Promise<unknown>[]): Promise<number> {
  const outcomes = await Promise.allSettled(promises);
  const failure = outcomes.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) console.warn('A request-cost job failed:', failure.reason);
  return outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
}

function toResult(costs: Map<string, RunCost[]>, options: RequestCostOptions): ScenarioResult {
  const perJob = (runs: readonly RunCost[], measure: (traffic: ClientTraffic) => number): Spread =>
    spread(runs.map((run) => measure(run.traffic) / Math.max(run.jobsDone, 1)));

  const rows: string[][] = [];
  for (const jobs of options.jobCounts) {
    for (const transport of Object.keys(TRANSPORT_LABELS) as Transport[]) {
      const runs = costs.get(`${transport}:${jobs}`);
      if (runs === undefined) {
        rows.push([TRANSPORT_LABELS[transport], String(jobs), 'not run', '', '', '', '']);
        continue;
      }
      rows.push([
        TRANSPORT_LABELS[transport],
        String(jobs),
        formatSpread(spread(runs.map((run) => run.jobsDone)), (value) => value.toFixed(0)),
        formatSpread(spread(runs.map((run) => statusRequests(run.traffic))), (value) =>
          formatNumber(value),
        ),
        formatSpread(perJob(runs, statusRequests), (value) => formatNumber(value, 2)),
        formatSpread(perJob(runs, statusBytes), formatBytes),
        formatSpread(spread(runs.map((run) => run.traffic.maxOpenStreams)), (value) =>
          value.toFixed(0),
        ),
      ]);
    }
  }

  const table: Table = {
    title: `Request cost of ${JOB_MS / 1000} s jobs, per completed job (median of runs, min–max)`,
    columns: [
      'transport',
      'jobs',
      'completed',
      'status requests',
      'requests/job',
      'bytes/job',
      'max open streams',
    ],
    rows,
    notes: [
      '`POST /create` is left out of every figure: each transport sends exactly one per job.',
      `The EventSource-per-job baseline is not run above ${MAX_STREAM_EACH_JOB} jobs: every stream carries every job of the client, so its bytes per job grow with the job count.`,
    ],
  };

  return {
    title: '2. Request cost',
    method: [
      `The four transports run at the same time against one server, each with its own client id, and each creates its own ${JOB_MS} ms jobs (${options.runs} runs per row). The job counts up to ${MAX_SHARED_ROUND_JOBS} share one round, and larger counts run alone. Running them together changes timing, not counts.`,
      'The server child counts every request by client id and route. Bytes are the socket byte counters (request and response, headers included) between the end of one response and the end of the next on the same connection. Clients send one request at a time on a connection, so the bytes belong to that request.',
      `The SDK clients poll every ${POLL_INTERVAL_MS} ms. The per-job poll baseline sends GET /status/:id from a setInterval of ${POLL_INTERVAL_MS} ms per job until the job is terminal.`,
    ],
    tables: [table],
    goals: requestCostGoals(costs, options),
  };
}

function requestCostGoals(costs: Map<string, RunCost[]>, options: RequestCostOptions): Goal[] {
  const goals: Goal[] = [];
  const medianRequests = (transport: Transport, jobs: number): number | undefined => {
    const runs = costs.get(`${transport}:${jobs}`);
    return runs === undefined
      ? undefined
      : spread(runs.map((run) => statusRequests(run.traffic))).median;
  };

  const batched = medianRequests('sdk-poll', 100);
  const naive = medianRequests('poll-each-job', 100);
  if (batched !== undefined && naive !== undefined) {
    goals.push({
      description: 'Batched POLL at 100 jobs: at most 1/50 of the per-job poll baseline requests',
      measured: `${formatNumber(batched)} vs ${formatNumber(naive)} requests (1/${formatNumber(naive / batched, 0)})`,
      met: batched * 50 <= naive,
    });
  }

  const sseRuns = options.jobCounts.flatMap((jobs) => costs.get(`sdk-sse:${jobs}`) ?? []);
  if (sseRuns.length > 0) {
    const maxOpen = Math.max(...sseRuns.map((run) => run.traffic.maxOpenStreams));
    const maxRequests = Math.max(...sseRuns.map((run) => run.traffic.requests.stream));
    goals.push({
      description: 'SDK SSE: one stream connection per client at every job count',
      measured: `at most ${maxOpen} open at once, ${maxRequests} stream request(s) per run`,
      met: maxOpen === 1 && maxRequests === 1,
    });
  }
  return goals;
}
