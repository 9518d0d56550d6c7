import { EventSource } from 'eventsource';
import { type ActiveTransport, HeyGenStatusListenerMode, SSEError } from '../../src';
import {
  finishOf,
  record,
  startPollClock,
  useResources,
  waitFor,
  withTimeout,
} from '../helpers/sdk';
import { makeJob, routes, ScenarioServer } from './helpers/scenario-server';

const { SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

/** Stall timeout of these tests, in ms. */
const STALL_MS = 300;

/** Allowance for timer rounding when a delay is a lower bound, in ms. */
const EARLY_MS = 5;

/** Server-side duration of jobs that must outlive the test. Closing the server clears their timers. */
const LONG_JOB_MS = 60_000;

describe('stall detection', () => {
  it('falls back to POLL when an open stream goes silent', async () => {
    const jobId = 'job-stall-fallback';
    const scenario = server.add('stall-fallback', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.stallAfterOpen(),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      fallback: true,
      pollInterval: 50,
      sseRetry: { stallTimeoutMs: STALL_MS, minDelayMs: 1000, maxDelayMs: 2000 },
    });
    const modeChanges: Array<{ mode: ActiveTransport; at: number }> = [];
    heygen.mode$.subscribe((mode) => modeChanges.push({ mode, at: Date.now() }));
    const recording = record(heygen.jobStatus$(jobId));

    await waitFor('mode$ to move to POLL', () => heygen.mode === POLL);
    scenario.setJob(makeJob(jobId, 'completed'));
    await finishOf(recording, 'the job to complete by polling');

    expect(recording.error).toBeUndefined();
    expect(modeChanges.map((change) => change.mode)).toEqual([SSE, POLL]);
    const openedAt = scenario.streams()[0]?.startedAt ?? Number.NaN;
    const fellBackAt = modeChanges[1]?.at ?? Number.NaN;
    expect(fellBackAt - openedAt).toBeGreaterThanOrEqual(STALL_MS - EARLY_MS);
    // The silent stream was closed, not left open beside the polls.
    expect(scenario.streams()[0]?.aborted).toBe(true);
  });

  it('errors with SSEError without fallback', async () => {
    const jobId = 'job-stall-error';
    const scenario = server.add('stall-error', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.stallAfterOpen(),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: { stallTimeoutMs: STALL_MS },
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect((recording.error as SSEError).message).toContain(
      `no event or heartbeat for ${STALL_MS} ms`,
    );
    const [stream] = scenario.streams();
    const endedAt = await waitFor('the server to see the stream closed', () => stream?.endedAt);
    expect(endedAt - (stream?.startedAt ?? 0)).toBeGreaterThanOrEqual(STALL_MS - EARLY_MS);
    expect(scenario.streams()).toHaveLength(1);
  });

  it('ignores heartbeat comments', async () => {
    // The standard EventSource API never exposes comments, which is why the protocol's heartbeat
    // carries a `heartbeat` event too.
    const jobId = 'job-comment-heartbeat';
    const scenario = server.add('comment-heartbeat', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: (context) => {
        routes.stallAfterOpen()(context);
        const timer = setInterval(() => context.res.write(': heartbeat\n\n'), STALL_MS / 6);
        context.res.once('close', () => clearInterval(timer));
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: { stallTimeoutMs: STALL_MS },
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
  });

  it('times out a connection attempt without a response', async () => {
    const jobId = 'job-no-response';
    const scenario = server.add('no-response', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.hang(),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      requestTimeout: STALL_MS,
      sseRetry: { minDelayMs: 20, maxDelayMs: 40, maxAttempts: 2 },
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect((recording.error as SSEError).message).toContain(`no response within ${STALL_MS} ms`);
    const streams = scenario.streams();
    expect(streams).toHaveLength(2);
    await waitFor('the server to see both attempts closed', () =>
      streams.every((stream) => stream.aborted),
    );
  });
});

describe('heartbeats of the mock server', () => {
  it('arrive as heartbeat events', async () => {
    const { url } = await resources.startServer({ heartbeatMs: 50 });
    const source = new EventSource(`${url}/status?uuid=heartbeat-reader`);
    resources.defer(() => source.close());

    const event = await withTimeout(
      new Promise<MessageEvent>((resolve) => source.addEventListener('heartbeat', resolve)),
      'a heartbeat event',
    );

    expect(Number.isNaN(Date.parse(String(event.data)))).toBe(false);
  });

  it('keep an idle stream alive', async () => {
    const { server: mock, url } = await resources.startServer({ heartbeatMs: 50 });
    const clock = await startPollClock(resources, url, 50);
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      sseRetry: { stallTimeoutMs: 250 },
    });
    // The first status change comes a fifth of the job's run time after it starts: far later.
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });
    const modes = record(heygen.mode$);
    const recording = record(heygen.jobStatus$(jobId));
    await waitFor('the stream to open', () => mock.stats().openStreams === 1);

    // 20 polls of 50 ms span at least four stall timeouts.
    await clock.waitForPolls(20);

    expect(recording.error).toBeUndefined();
    expect(mock.stats().requests.stream).toBe(1);
    expect(mock.stats().openStreams).toBe(1);
    expect(modes.values).toEqual([SSE]);
  });

  it('stall detection fires when they stop', async () => {
    // The same setup without heartbeats within the stall timeout: the watchdog must fire.
    const { server: mock, url } = await resources.startServer({ heartbeatMs: 60_000 });
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      sseRetry: { stallTimeoutMs: 250 },
    });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect(mock.stats().requests.stream).toBe(1);
  });
});
