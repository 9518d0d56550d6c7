/**
 * Scenario 3, scale: one client watching 10,000 jobs over one SSE connection (client CPU per event,
 * heap per watched job), and 1,000 SSE clients with 10 jobs each (delivery latency, server memory).
 */
import type { Subscription } from 'rxjs';
import type { HeyGenAPI } from '../src';
import {
  formatBytes,
  formatNumber,
  formatSpread,
  type Goal,
  type ScenarioResult,
  type Table,
} from './report';
import type { MemorySample, ServerProcess } from './server-process';
import { latencySpreads, spread } from './stats';
import {
  calibrateClock,
  changedAtMs,
  countingEventSource,
  cpuTimeUs,
  createClient,
  type EventCounter,
  heapUsedAfterGc,
  HeyGenStatusListenerMode,
  isTerminalJob,
  newClientId,
  spreadOver,
  waitFor,
} from './support';

const SSE = HeyGenStatusListenerMode.SSE;

export interface ScaleOptions {
  readonly runs: number;
}

/** Delivery latency samples of the many-clients case, per run, in ms, for the chart. */
export interface ScaleLatency {
  readonly clients: number;
  readonly jobsPerClient: number;
  readonly runs: number[][];
}

const ONE_CLIENT_JOBS = 10_000;
const ONE_CLIENT_JOB_MS = 5000;
/**
 * The 10,000 jobs are created over this window, as a steady load rather than a burst. Created at
 * once, their status changes would arrive in bursts of 10,000 events (about 2 MB each), and the
 * figures would measure queueing rather than the cost per event.
 */
const ONE_CLIENT_SPREAD_MS = 2000;

const MANY_CLIENTS = 1000;
const JOBS_PER_CLIENT = 10;
const MANY_CLIENTS_JOB_MS = 3000;
/** Measured jobs are created over this window, for one group of clients at a time. */
const MANY_CLIENTS_SPREAD_MS = 1000;
const SLOTS = 50;
/** A job per client that opens its stream before the measured jobs, longer than any run. */
const KEEPALIVE_JOB_MS = 120_000;

/** Figures of one run with one client and many jobs. */
interface OneClientRun {
  readonly terminalDelivered: number;
  readonly heapPerJob: number;
  readonly setupMs: number;
  readonly steadyCpuPerEventUs: number;
  readonly totalCpuPerEventUs: number;
  readonly events: number;
  readonly streamRequests: number;
  readonly batchRequests: number;
}

/** Figures of one run with many clients. */
interface ManyClientsRun {
  readonly terminalDelivered: number;
  readonly latencies: number[];
  readonly idle: MemorySample;
  readonly streamsOpen: MemorySample;
  readonly jobsDone: MemorySample;
}

export async function measureScale(
  startServer: () => Promise<ServerProcess>,
  options: ScaleOptions,
): Promise<{ result: ScenarioResult; latency: ScaleLatency }> {
  const oneClient: OneClientRun[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    oneClient.push(await withFreshServer(startServer, measureOneClient));
  }
  const manyClients: ManyClientsRun[] = [];
  for (let run = 0; run < options.runs; run += 1) {
    manyClients.push(await withFreshServer(startServer, measureManyClients));
  }
  return {
    result: toResult(oneClient, manyClients, options.runs),
    latency: {
      clients: MANY_CLIENTS,
      jobsPerClient: JOBS_PER_CLIENT,
      runs: manyClients.map((run) => run.latencies),
    },
  };
}

async function withFreshServer<T>(
  startServer: () => Promise<ServerProcess>,
  measure: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await startServer();
  try {
    return await measure(server);
  } finally {
    await server.stop();
  }
}

/**
 * Measures one client that opens its stream with a long job, then watches {@link ONE_CLIENT_JOBS} jobs, subscribing
 * to each group as it is created. CPU time is split into setup (until every job is watched and has a
 * state) and the steady phase after it, which the per-event goal is about.
 */
async function measureOneClient(server: ServerProcess): Promise<OneClientRun> {
  const counter: EventCounter = { statusEvents: 0 };
  const clientId = newClientId('scale-one');
  const client = createClient(server.url, SSE, {
    clientId,
    EventSource: countingEventSource(counter),
  });
  const subscriptions: Subscription[] = [];
  try {
    await openStreams(server, [client], subscriptions);
    const heapBefore = heapUsedAfterGc();

    const setupStart = performance.now();
    const cpuStart = cpuTimeUs();
    const eventsStart = counter.statusEvents;
    let withState = 0;
    let terminal = 0;
    await spreadOver(ONE_CLIENT_JOBS, SLOTS, ONE_CLIENT_SPREAD_MS, async (start, end) => {
      const [ids = []] = await server.createJobs({
        clientIds: [clientId],
        perClient: end - start,
        durationMs: ONE_CLIENT_JOB_MS,
      });
      for (const id of ids) {
        let seen = false;
        const subscription = client.jobStatus$(id).subscribe({
          next: (job) => {
            if (!seen) {
              seen = true;
              withState += 1;
            }
            if (isTerminalJob(job)) terminal += 1;
          },
          error: () => undefined,
        });
        subscriptions.push(subscription);
      }
    });
    await waitFor(() => withState === ONE_CLIENT_JOBS, 'a state for every watched job', 30_000, 1);
    const setupMs = performance.now() - setupStart;
    const cpuSetup = cpuTimeUs() - cpuStart;
    const eventsSetup = counter.statusEvents - eventsStart;

    const heapWatched = heapUsedAfterGc();

    const cpuSteadyStart = cpuTimeUs();
    const eventsSteadyStart = counter.statusEvents;
    await waitFor(
      () => terminal === ONE_CLIENT_JOBS,
      `${ONE_CLIENT_JOBS} terminal statuses`,
      ONE_CLIENT_JOB_MS + 30_000,
      5,
    );
    const cpuSteady = cpuTimeUs() - cpuSteadyStart;
    const eventsSteady = counter.statusEvents - eventsSteadyStart;
    const traffic = await server.trafficOf(clientId);

    return {
      terminalDelivered: terminal,
      heapPerJob: (heapWatched - heapBefore) / ONE_CLIENT_JOBS,
      setupMs,
      steadyCpuPerEventUs: cpuSteady / Math.max(eventsSteady, 1),
      totalCpuPerEventUs: (cpuSetup + cpuSteady) / Math.max(eventsSetup + eventsSteady, 1),
      events: counter.statusEvents,
      streamRequests: traffic.requests.stream,
      batchRequests: traffic.requests.batch,
    };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    client.dispose();
  }
}

/**
 * Measures {@link MANY_CLIENTS} clients that each open a stream with a long job, then watch
 * {@link JOBS_PER_CLIENT} measured jobs each. The server's memory is read after a full GC, before the
 * clients connect, with every stream open, and after the measured jobs finished (still stored).
 */
async function measureManyClients(server: ServerProcess): Promise<ManyClientsRun> {
  const idle = await server.memory();
  const clients: HeyGenAPI[] = [];
  const subscriptions: Subscription[] = [];
  try {
    for (let index = 0; index < MANY_CLIENTS; index += 1) {
      clients.push(createClient(server.url, SSE, { clientId: newClientId(`scale-many-${index}`) }));
    }
    await openStreams(server, clients, subscriptions);
    const streamsOpen = await server.memory();

    const clock = calibrateClock();
    const latencies: number[] = [];
    let terminal = 0;
    await spreadOver(MANY_CLIENTS, SLOTS, MANY_CLIENTS_SPREAD_MS, async (start, end) => {
      const group = clients.slice(start, end);
      const ids = await server.createJobs({
        clientIds: group.map((client) => client.clientId),
        perClient: JOBS_PER_CLIENT,
        durationMs: MANY_CLIENTS_JOB_MS,
      });
      const subscribedAt = Math.floor(clock());
      group.forEach((client, index) => {
        for (const id of ids[index] ?? []) {
          const subscription = client.jobStatus$(id).subscribe({
            next: (job) => {
              const changedAt = changedAtMs(job);
              if (job.status !== 'pending' && changedAt >= subscribedAt) {
                latencies.push(clock() - changedAt);
              }
              if (isTerminalJob(job)) terminal += 1;
            },
            error: () => undefined,
          });
          subscriptions.push(subscription);
        }
      });
    });
    const expected = MANY_CLIENTS * JOBS_PER_CLIENT;
    await waitFor(
      () => terminal === expected,
      `${expected} terminal statuses over ${MANY_CLIENTS} clients`,
      MANY_CLIENTS_SPREAD_MS + MANY_CLIENTS_JOB_MS + 30_000,
    );
    const jobsDone = await server.memory();
    return { terminalDelivered: terminal, latencies, idle, streamsOpen, jobsDone };
  } finally {
    for (const subscription of subscriptions) subscription.unsubscribe();
    for (const client of clients) client.dispose();
  }
}

/** Makes each client watch one long job, and waits until the server has every stream open. */
async function openStreams(
  server: ServerProcess,
  clients: readonly HeyGenAPI[],
  subscriptions: Subscription[],
): Promise<void> {
  const ids = await server.createJobs({
    clientIds: clients.map((client) => client.clientId),
    perClient: 1,
    durationMs: KEEPALIVE_JOB_MS,
  });
  clients.forEach((client, index) => {
    const [id] = ids[index] ?? [];
    if (id !== undefined) {
      subscriptions.push(client.jobStatus$(id).subscribe({ error: () => undefined }));
    }
  });
  await waitFor(
    async () => (await server.stats()).openStreams === clients.length,
    `${clients.length} open streams`,
    30_000,
    50,
  );
}

function toResult(
  oneClient: readonly OneClientRun[],
  manyClients: readonly ManyClientsRun[],
  runs: number,
): ScenarioResult {
  const steadyCpu = spread(oneClient.map((run) => run.steadyCpuPerEventUs));
  const heapPerJob = spread(oneClient.map((run) => run.heapPerJob));
  const delivered = Math.min(...oneClient.map((run) => run.terminalDelivered));
  const us = (value: number): string => `${value.toFixed(1)} µs`;

  const oneClientTable: Table = {
    title: `One client, ${formatNumber(ONE_CLIENT_JOBS)} jobs over one SSE connection (median of runs, min–max)`,
    columns: ['figure', 'value'],
    rows: [
      [
        'terminal statuses delivered (lowest run)',
        `${formatNumber(delivered)} of ${formatNumber(ONE_CLIENT_JOBS)}`,
      ],
      [
        'SSE status events received',
        formatSpread(spread(oneClient.map((run) => run.events)), formatNumber),
      ],
      [
        'stream requests (1 = the stream never broke)',
        formatSpread(spread(oneClient.map((run) => run.streamRequests)), formatNumber),
      ],
      [
        'batched status requests',
        formatSpread(spread(oneClient.map((run) => run.batchRequests)), formatNumber),
      ],
      ['client CPU per event, steady phase', formatSpread(steadyCpu, us)],
      [
        'client CPU per event, setup included',
        formatSpread(spread(oneClient.map((run) => run.totalCpuPerEventUs)), us),
      ],
      [
        'setup: subscribe until every job has a state',
        `${formatSpread(spread(oneClient.map((run) => run.setupMs)))} ms`,
      ],
      ['client heap per watched job, after GC', formatSpread(heapPerJob, formatBytes)],
    ],
  };

  const latency = latencySpreads(manyClients.map((run) => run.latencies));
  const memory = (pick: (run: ManyClientsRun) => number): string =>
    formatSpread(spread(manyClients.map(pick)), formatBytes);
  const manyDelivered = Math.min(...manyClients.map((run) => run.terminalDelivered));
  const manyTable: Table = {
    title: `${formatNumber(MANY_CLIENTS)} SSE clients with ${JOBS_PER_CLIENT} jobs each (median of runs, min–max)`,
    columns: ['figure', 'value'],
    rows: [
      [
        'terminal statuses delivered (lowest run)',
        `${formatNumber(manyDelivered)} of ${formatNumber(MANY_CLIENTS * JOBS_PER_CLIENT)}`,
      ],
      ['delivery latency p50', `${formatSpread(latency.p50)} ms`],
      ['delivery latency p99', `${formatSpread(latency.p99)} ms`],
      ['delivery latency max', `${formatSpread(latency.max)} ms`],
      ['server RSS, idle', memory((run) => run.idle.rss)],
      ['server RSS, 1,000 streams open', memory((run) => run.streamsOpen.rss)],
      ['server RSS, 10,000 more jobs done', memory((run) => run.jobsDone.rss)],
      ['server heap, idle', memory((run) => run.idle.heapUsed)],
      ['server heap, 1,000 streams open', memory((run) => run.streamsOpen.heapUsed)],
      ['server heap, 10,000 more jobs done', memory((run) => run.jobsDone.heapUsed)],
      [
        'server heap per open stream',
        memory((run) => (run.streamsOpen.heapUsed - run.idle.heapUsed) / MANY_CLIENTS),
      ],
    ],
    notes: [
      'Every client runs in the bench process, so client CPU adds to the delivery latency.',
      'The server keeps finished jobs for 60 s, so the last memory figure holds 11,000 jobs.',
    ],
  };

  const goals: Goal[] = [
    {
      description: `One client, ${formatNumber(ONE_CLIENT_JOBS)} jobs: every terminal status delivered`,
      measured: `${formatNumber(delivered)} of ${formatNumber(ONE_CLIENT_JOBS)} (lowest run)`,
      met: delivered === ONE_CLIENT_JOBS,
    },
    {
      description: 'Client CPU < 20 µs per event (steady phase)',
      measured: formatSpread(steadyCpu, us),
      met: steadyCpu.median < 20,
    },
    {
      description: 'Client heap < 2 KB per watched job after GC',
      measured: formatSpread(heapPerJob, formatBytes),
      met: heapPerJob.median < 2048,
    },
    {
      description: `${formatNumber(MANY_CLIENTS)} clients: every terminal status delivered`,
      measured: `${formatNumber(manyDelivered)} of ${formatNumber(MANY_CLIENTS * JOBS_PER_CLIENT)} (lowest run)`,
      met: manyDelivered === MANY_CLIENTS * JOBS_PER_CLIENT,
    },
  ];

  return {
    title: '3. Scale',
    method: [
      `Each run starts a new server child (${runs} runs per figure), so memory figures start clean. Jobs are created in the store over IPC, so the client's CPU time contains only the watching.`,
      `One client: it first watches one long job, so its stream is open. Then ${formatNumber(ONE_CLIENT_JOBS)} jobs of ${ONE_CLIENT_JOB_MS} ms are created over ${ONE_CLIENT_SPREAD_MS} ms in ${SLOTS} groups, and the client subscribes to each group as it exists. Jobs whose state has not arrived over the stream yet are looked up in batches of 100. Setup ends when every job has a state. Heap = heapUsed after two forced GCs with every job watched, minus the same before the first group, per job.`,
      'The jobs are spread over time so that the figures measure a steady load: created at once, 10,000 jobs would send their status changes in bursts of about 2 MB, which measures queueing rather than the cost per event.',
      'CPU = process.cpuUsage() (user + system) of the bench process, which contains only the client. The steady phase runs from the end of setup to the last terminal status, divided by the SSE `status` events received in it (counted by an EventSource subclass).',
      `Many clients: ${formatNumber(MANY_CLIENTS)} SDK clients in the bench process each watch one long job, so every stream is open. Then each gets ${JOBS_PER_CLIENT} jobs of ${MANY_CLIENTS_JOB_MS} ms, created for ${SLOTS} groups of clients over ${MANY_CLIENTS_SPREAD_MS} ms. Latency is measured as in scenario 1. Server memory = process.memoryUsage() of the server child after two forced GCs.`,
    ],
    tables: [oneClientTable, manyTable],
    goals,
  };
}
