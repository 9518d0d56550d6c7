import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventSource } from 'eventsource';
import { createMockServer, type MockServer } from '../../mock-server';
import {
  type ActiveTransport,
  HeyGenStatusListenerMode,
  type Job,
  JobFailedError,
} from '../../src';
import {
  finishOf,
  firstNonForwardStep,
  type Recording,
  record,
  recordServerStates,
  stateOf,
  useResources,
} from '../helpers/sdk';

const { AUTO, SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();

/** Seed of the fault schedule and the job mix. Set CHAOS_SEED to replay a failed run. */
const SEED = Number(process.env.CHAOS_SEED ?? 20_261_204);

const JOB_COUNT = 200;

/** Jobs are created over this span, so that faults hit jobs in every phase, in ms. */
const CREATION_SPAN_MS = 10_000;

/** Share of jobs that end with `failed`. */
const FAILED_SHARE = 0.15;

/** Highest latency that the test adds to each request, in ms. */
const MAX_LATENCY_MS = 300;

/**
 * Returns a seeded generator of numbers in [0, 1): a 32-bit linear congruential generator with the
 * constants of Numerical Recipes. Plenty for a test schedule, and the same sequence for each seed.
 */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Returns an integer from `min` to `max`, both included. */
function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/**
 * Serves the mock server's app behind a random delay of 0 to `MAX_LATENCY_MS` per request (the mock's
 * own latency fault is fixed). Returns the URL and a function that closes the server.
 */
async function listenWithLatency(
  mock: MockServer,
  random: () => number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const pending = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const timer = setTimeout(
      () => {
        pending.delete(timer);
        mock.app(req, res);
      },
      between(random, 0, MAX_LATENCY_MS),
    );
    pending.add(timer);
    res.once('close', () => {
      if (pending.delete(timer)) clearTimeout(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async (): Promise<void> => {
    for (const timer of pending) clearTimeout(timer);
    pending.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await mock.close();
  };
  return { url: `http://127.0.0.1:${port}`, close };
}

/** Counts of what the fault schedule did. */
interface FaultCounts {
  /** Drops that ended at least one open stream. */
  cuts: number;
  /** Periods during which new streams got 503. */
  refusals: number;
}

/**
 * Cuts the event streams on a seeded schedule until stopped: every 300 to 1200 ms it drops every open
 * stream, and sometimes also refuses new streams for 200 to 1500 ms.
 */
function startFaultSchedule(
  mock: MockServer,
  random: () => number,
): {
  counts: FaultCounts;
  stop: () => void;
} {
  const counts: FaultCounts = { cuts: 0, refusals: 0 };
  let timer: NodeJS.Timeout | undefined;
  const next = (): void => {
    timer = setTimeout(
      () => {
        const roll = random();
        if (roll < 0.8) {
          if (mock.faults.dropStreams() > 0) counts.cuts += 1;
        }
        if (roll >= 0.5 && roll < 0.8) {
          mock.faults.refuseStreams(between(random, 200, 1500));
          counts.refusals += 1;
        }
        next();
      },
      between(random, 300, 1200),
    );
  };
  next();
  return { counts, stop: () => clearTimeout(timer) };
}

it('200 jobs end exactly once', async () => {
  const startedAt = Date.now();
  const random = seededRandom(SEED);
  const latencyRandom = seededRandom(SEED + 1);

  // `retryMs` 50 lets each EventSource reconnect quickly after a cut. Heartbeats every 500 ms keep
  // the stall timer of 2 s from firing on a quiet stream.
  const mock = createMockServer({ retryMs: 50, heartbeatMs: 500 });
  const { url, close } = await listenWithLatency(mock, latencyRandom);
  resources.defer(close);
  const serverStates = recordServerStates(mock, resources);

  const heygen = resources.createClient({
    url,
    mode: AUTO,
    EventSource,
    fallback: true,
    pollInterval: 250,
    sseRetry: { minDelayMs: 50, maxDelayMs: 500, maxAttempts: 3, stallTimeoutMs: 2000 },
  });
  const modes: ActiveTransport[] = [];
  heygen.mode$.subscribe((mode) => modes.push(mode));
  const errors: Error[] = [];
  heygen.errors$.subscribe((error) => errors.push(error));

  mock.faults.setErrorRate(0.1, 503);
  const schedule = startFaultSchedule(mock, random);
  resources.defer(() => schedule.stop());

  // Jobs are created in the store directly, so that the error rate hits only the SDK's requests.
  const recordings = new Map<string, Recording<Job>>();
  const outcomes = new Map<string, 'completed' | 'failed'>();
  for (let index = 0; index < JOB_COUNT; index += 1) {
    const outcome = random() < FAILED_SHARE ? 'failed' : 'completed';
    const job = mock.store.createJob(heygen.clientId, {
      durationMs: between(random, 1000, 4000),
      outcome,
    });
    outcomes.set(job.id, outcome);
    recordings.set(job.id, record(heygen.jobStatus$(job.id)));
    await new Promise((resolve) => setTimeout(resolve, CREATION_SPAN_MS / JOB_COUNT));
  }
  for (const [jobId, recording] of recordings) {
    await finishOf(recording, `job ${jobId} to end`, 30_000);
  }
  schedule.stop();
  mock.faults.reset();

  // Check every job against what the server did.
  const lost: string[] = [];
  const doubled: string[] = [];
  const outOfOrder: string[] = [];
  const wrongEnd: string[] = [];
  const subscriberErrors: string[] = [];
  for (const [jobId, recording] of recordings) {
    const outcome = outcomes.get(jobId);
    const terminal = recording.values.filter(
      (job) => job.status === 'completed' || job.status === 'failed',
    );
    if (terminal.length === 0) lost.push(jobId);
    if (terminal.length > 1) doubled.push(jobId);
    if (firstNonForwardStep(recording.values) !== undefined) outOfOrder.push(jobId);
    if (terminal[0]?.status !== outcome) wrongEnd.push(jobId);
    const expectedError = outcome === 'failed' ? JobFailedError : undefined;
    const ok =
      expectedError === undefined
        ? recording.error === undefined && recording.completed
        : recording.error instanceof expectedError;
    if (!ok) subscriberErrors.push(`${jobId}: ${String(recording.error)}`);
    // Every state a subscriber saw is one the server produced, in the server's order.
    const produced = serverStates.get(jobId) ?? [];
    const seen = recording.values.map(stateOf);
    const positions = seen.map((state) => produced.lastIndexOf(state));
    if (
      positions.some((position, index) => position < 0 || position < (positions[index - 1] ?? -1))
    ) {
      outOfOrder.push(`${jobId} (${seen.join(' ')} vs ${produced.join(' ')})`);
    }
  }

  const fallbacks = modes.filter((mode, index) => mode === POLL && modes[index - 1] === SSE);
  const recoveries = modes.filter((mode, index) => mode === SSE && modes[index - 1] === POLL);
  const stats = mock.stats();
  console.log(
    [
      `chaos seed ${SEED}: ${JOB_COUNT} jobs in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
      `cuts ${schedule.counts.cuts}, refusals ${schedule.counts.refusals}`,
      `fallbacks (SSE->POLL) ${fallbacks.length}, recoveries (POLL->SSE) ${recoveries.length}`,
      `requests ${JSON.stringify(stats.requests)}, 503 responses ${stats.responses['503'] ?? 0}`,
      `lost ${lost.length}, doubled ${doubled.length}, out of order ${outOfOrder.length}, ` +
        `subscriber errors ${subscriberErrors.length}`,
    ].join('\n'),
  );

  expect(lost).toEqual([]);
  expect(doubled).toEqual([]);
  expect(outOfOrder).toEqual([]);
  expect(wrongEnd).toEqual([]);
  expect(subscriberErrors).toEqual([]);
  expect(errors).toEqual([]);
  // The schedule must have exercised the paths this test is about. Every fallback but the last is
  // followed by a recovery, because the jobs may all end while the client polls.
  expect(schedule.counts.cuts).toBeGreaterThan(0);
  expect(fallbacks.length).toBeGreaterThan(0);
  expect(recoveries.length).toBeGreaterThanOrEqual(fallbacks.length - 1);
}, 60_000);
