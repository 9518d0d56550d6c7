import { EventSource } from 'eventsource';
import { HeyGenStatusListenerMode, SSEError, type SseRetryOptions } from '../../src';
import {
  finishOf,
  firstNonForwardStep,
  record,
  stateOf,
  useResources,
  waitFor,
} from '../helpers/sdk';
import { gapsOf, startScenarioClock } from './helpers/client';
import {
  makeJob,
  openStream,
  routes,
  type Scenario,
  ScenarioServer,
  statusEvent,
} from './helpers/scenario-server';

const { SSE } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

/** Reconnection settings of most tests: short, and far enough apart to tell the delays apart. */
const RETRY: Required<SseRetryOptions> = {
  minDelayMs: 100,
  maxDelayMs: 400,
  maxAttempts: 3,
  stallTimeoutMs: 0,
};

/** Allowance for connection set-up and timer lateness on a busy machine, in ms. */
const LATENESS_MS = 150;

/** Allowance for timer rounding when a delay is a lower bound, in ms. */
const EARLY_MS = 5;

/** Start times of the stream requests of a scenario. */
function streamStarts(scenario: Scenario): number[] {
  return scenario.streams().map((request) => request.startedAt);
}

describe('SSE reconnection', () => {
  it('survives a transient drop without an error', async () => {
    const jobId = 'job-drop';
    const scenario = server.add('transient-drop', {
      jobs: [makeJob(jobId, 'pending')],
      stream: ({ res, request, scenario: self }) => {
        openStream(res);
        if (request.index > 0) return;
        res.write('retry: 50\n\n');
        res.write(statusEvent(makeJob(jobId, 'processing', 25), 41));
        // Open for longer than minDelayMs, so that the EventSource reconnects by itself. The job
        // finishes while no stream is open: only the snapshot after the reconnection can report it.
        setTimeout(() => {
          self.setJob(makeJob(jobId, 'completed'));
          res.end();
        }, 2 * RETRY.minDelayMs);
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: RETRY,
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    expect(recording.completed).toBe(true);
    expect(recording.values.map(stateOf)).toContain('processing:25');
    expect(recording.values.at(-1)?.status).toBe('completed');
    expect(firstNonForwardStep(recording.values)).toBeUndefined();
    const streams = scenario.streams();
    expect(streams).toHaveLength(2);
    expect(streams[1]?.lastEventIdHeader).toBe('41');
    // One read when the transport starts, then one snapshot after the reconnection.
    expect(scenario.batches()).toHaveLength(2);
  });

  it('reconnects after a quick drop without falling back', async () => {
    const jobId = 'job-quick-drop';
    const scenario = server.add('quick-drop', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: ({ res, request, scenario: self }) => {
        openStream(res);
        if (request.index > 0) {
          self.setJob(makeJob(jobId, 'completed'));
          return;
        }
        res.write(statusEvent(makeJob(jobId, 'processing', 40), 1));
        res.end();
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      fallback: true,
      pollInterval: 50,
      sseRetry: RETRY,
    });
    const modes = record(heygen.mode$);

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    expect(modes.values).toEqual([SSE]);
    expect(scenario.streams()).toHaveLength(2);
    // No poll: one read when the transport starts, one snapshot after the reconnection.
    expect(scenario.batches()).toHaveLength(2);
  });

  it('gives up on empty closing streams', async () => {
    const jobId = 'job-empty-streams';
    const scenario = server.add('empty-streams', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.streamText(': connected\n\n', { end: true }),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: { ...RETRY, minDelayMs: 20, maxDelayMs: 80 },
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect((recording.error as SSEError).message).toMatch(
      /the stream closed \d+ ms after it opened/,
    );
    expect(scenario.streams()).toHaveLength(RETRY.maxAttempts);
  });

  it('new EventSource sends lastEventId', async () => {
    const jobId = 'job-query';
    const scenario = server.add('last-event-id-query', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: ({ res, request, scenario: self }) => {
        openStream(res);
        if (request.index > 0) {
          // The snapshot after the reconnection reports the end of the job.
          self.setJob(makeJob(jobId, 'completed'));
          return;
        }
        res.write(statusEvent(makeJob(jobId, 'processing', 25), 5));
        res.write(statusEvent(makeJob(jobId, 'processing', 50), 6));
        res.write(statusEvent(makeJob(jobId, 'processing', 75), 7));
        // Closing at once makes the client reconnect with a new EventSource of its own.
        res.end();
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: RETRY,
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    const [first, second] = scenario.streams();
    expect(first?.lastEventIdQuery).toBeUndefined();
    expect(second?.lastEventIdQuery).toBe('7');
    expect(second?.lastEventIdHeader).toBeUndefined();
  });

  it('gives up after maxAttempts with SSEError', async () => {
    const jobId = 'job-refused';
    const scenario = server.add('refused', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.status(503),
    });
    const clock = startScenarioClock(server, resources, 50);
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: { ...RETRY, minDelayMs: 20, maxDelayMs: 80 },
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect((recording.error as SSEError).message).toContain('HTTP 503');
    expect(scenario.streams()).toHaveLength(RETRY.maxAttempts);
    await clock.waitForPolls(5);
    expect(scenario.streams()).toHaveLength(RETRY.maxAttempts);
    expect(scenario.openRequests()).toEqual([]);
  });

  it('gives up within 10 s with the default options', async () => {
    const jobId = 'job-default-retry';
    const scenario = server.add('refused-default-options', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.status(503),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });
    const startedAt = Date.now();

    const recording = await finishOf(
      record(heygen.jobStatus$(jobId)),
      'the subscriber to error',
      10_000,
    );

    expect(recording.error).toBeInstanceOf(SSEError);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    // The default maxAttempts is 5.
    expect(scenario.streams()).toHaveLength(5);
  });

  it('backs off exponentially with jitter', async () => {
    const retry = { minDelayMs: 40, maxDelayMs: 320, maxAttempts: 2, stallTimeoutMs: 0 };
    const jobId = 'job-backoff';
    const scenario = server.add('backoff', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: routes.status(503),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      // With fallback the client keeps probing after maxAttempts, so the delays can be measured.
      fallback: true,
      pollInterval: 1000,
      sseRetry: retry,
    });
    record(heygen.jobStatus$(jobId));

    await waitFor('8 stream requests', () => scenario.streams().length >= 8);

    const gaps = gapsOf(streamStarts(scenario).slice(0, 8));
    for (const [index, gap] of gaps.entries()) {
      // Retry n waits from half the ceiling to the ceiling, which doubles from 2 * minDelayMs.
      const ceiling = Math.min(retry.maxDelayMs, retry.minDelayMs * 2 ** (index + 1));
      const lowest = Math.max(retry.minDelayMs, ceiling / 2);
      expect({ retry: index + 1, gap }).toEqual({ retry: index + 1, gap: expect.any(Number) });
      expect(gap).toBeGreaterThanOrEqual(lowest - EARLY_MS);
      expect(gap).toBeLessThanOrEqual(ceiling + LATENESS_MS);
    }
    // The last four waits all have the maximum ceiling; jitter spreads them.
    const capped = gaps.slice(-4);
    expect(Math.max(...capped) - Math.min(...capped)).toBeGreaterThan(EARLY_MS);
  });
});

describe('retry field', () => {
  // Each stream sends `retry:` and one event, then closes at once. The client then reconnects with
  // its own backoff, whatever the value of the field.
  it.each(['0', '-5', 'abc', '3600000', '99999999999999999999'])(
    'retry: %s keeps attempts minDelayMs apart',
    async (retryValue) => {
      const jobId = 'job-retry-field';
      const scenario = server.add('retry-close-at-once', {
        jobs: [makeJob(jobId, 'processing', 10)],
        stream: routes.streamText(
          (request) =>
            `retry: ${retryValue}\n\n` +
            statusEvent(makeJob(jobId, 'processing', 20), request.index + 1),
          { end: true },
        ),
      });
      const clock = startScenarioClock(server, resources, 50);
      const heygen = resources.createClient({
        url: scenario.url,
        mode: SSE,
        EventSource,
        sseRetry: RETRY,
      });
      const recording = record(heygen.jobStatus$(jobId));
      await waitFor('the first stream request', () => scenario.streams().length >= 1);
      const windowStart = Date.now();

      await clock.waitForPolls(15);

      const windowMs = Date.now() - windowStart;
      const attempts = scenario.streams().length - 1;
      expect(recording.error).toBeUndefined();
      expect(attempts).toBeGreaterThan(0);
      expect(attempts).toBeLessThanOrEqual(Math.ceil(windowMs / RETRY.minDelayMs) + 1);
      for (const gap of gapsOf(streamStarts(scenario))) {
        expect(gap).toBeGreaterThanOrEqual(RETRY.minDelayMs - EARLY_MS);
      }
    },
  );

  // Each stream stays open for longer than minDelayMs, so the EventSource reconnects by itself
  // after the delay that `retry:` set, unless that delay is outside [minDelayMs, maxDelayMs].
  it.each([
    {
      value: '300',
      what: 'is honoured',
      fromMs: 300,
      toMs: 300 + LATENESS_MS,
      ownReconnection: true,
    },
    {
      value: '0',
      what: 'reconnects at once after a long stream',
      fromMs: 0,
      toMs: LATENESS_MS,
      ownReconnection: true,
    },
    {
      value: '3600000',
      what: 'is cut at maxDelayMs',
      fromMs: RETRY.maxDelayMs + RETRY.minDelayMs,
      toMs: RETRY.maxDelayMs + 2 * RETRY.minDelayMs + LATENESS_MS,
      ownReconnection: false,
    },
    {
      value: 'abc',
      what: 'falls back to the 3 s default, cut at maxDelayMs',
      fromMs: RETRY.maxDelayMs + RETRY.minDelayMs,
      toMs: RETRY.maxDelayMs + 2 * RETRY.minDelayMs + LATENESS_MS,
      ownReconnection: false,
    },
  ])('retry: $value $what', async ({ value, fromMs, toMs, ownReconnection }) => {
    const jobId = 'job-retry-long-stream';
    const openMs = RETRY.minDelayMs + 50;
    const scenario = server.add('retry-long-stream', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream: ({ res, request }) => {
        openStream(res);
        res.write(`retry: ${value}\n\n`);
        res.write(
          statusEvent(makeJob(jobId, 'processing', 20 + request.index), 100 + request.index),
        );
        setTimeout(() => res.end(), openMs);
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: RETRY,
    });
    const recording = record(heygen.jobStatus$(jobId));

    await waitFor('a second stream request', () => scenario.streams().length >= 2);

    const [first, second] = scenario.streams();
    const closedAt = first?.endedAt ?? Number.NaN;
    const reconnectMs = (second?.startedAt ?? Number.NaN) - closedAt;
    expect(recording.error).toBeUndefined();
    expect(reconnectMs).toBeGreaterThanOrEqual(fromMs - EARLY_MS);
    expect(reconnectMs).toBeLessThanOrEqual(toMs);
    if (ownReconnection) {
      expect(second?.lastEventIdHeader).toBe('100');
    } else {
      expect(second?.lastEventIdQuery).toBe('100');
    }
  });
});
