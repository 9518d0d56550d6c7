import { EventSource } from 'eventsource';
import {
  type ActiveTransport,
  HeyGenStatusListenerMode,
  type JobStatus,
  SSEError,
} from '../../src';
import {
  CountingFetch,
  expectCompletedOnce,
  finishOf,
  record,
  recordServerStates,
  rejectionOf,
  startPollClock,
  stateOf,
  trackedEventSource,
  useResources,
  waitFor,
  withTimeout,
} from '../helpers/sdk';

const { AUTO, SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();

/** Server-side duration of jobs that must outlive the test. Closing the server clears their timers. */
const LONG_JOB_MS = 30_000;

/** `readyState` of a closed EventSource, from the HTML standard. */
const CLOSED = 2;

describe('changeBackend', () => {
  it('switches to POLL and back mid-job', async () => {
    const { server, url } = await resources.startServer();
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      pollInterval: 40,
      fetch: counting.fetch,
    });
    const [jobA, jobB] = await Promise.all([
      heygen.createJob({ durationMs: 600 }),
      heygen.createJob({ durationMs: 600 }),
    ]);
    const modes = record(heygen.mode$);
    const subscribers = [
      record(heygen.jobStatus$(jobA)),
      record(heygen.jobStatus$(jobA)),
      record(heygen.jobStatus$(jobB)),
    ];
    const listened: JobStatus[] = [];
    heygen.listen(jobB, (_id, status) => listened.push(status));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    const pollsBefore = counting.batchRequests().length;
    heygen.changeBackend(POLL);
    await waitFor('the stream to close', () => server.stats().openStreams === 0);
    await waitFor('a poll', () => counting.batchRequests().length > pollsBefore);

    heygen.changeBackend(SSE);
    await waitFor('a second stream', () => server.stats().requests.stream === 2);
    // The switches must happen while the jobs run, or this test proves nothing.
    expect(server.store.get(heygen.clientId, jobA)?.status).not.toBe('completed');

    for (const [index, subscriber] of subscribers.entries()) {
      await finishOf(subscriber, `subscriber ${index} to finish`);
      expectCompletedOnce(subscriber, `subscriber ${index}`);
    }
    await waitFor('the listener to see completed', () => listened.includes('completed'));
    expect(listened.filter((status) => status === 'completed')).toHaveLength(1);
    expect(modes.values).toEqual([SSE, POLL, SSE]);
    expect(heygen.mode).toBe(SSE);
  });

  it('sets mode while no job is watched', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource, pollInterval: 40 });
    const modes = record(heygen.mode$);

    heygen.changeBackend(POLL);

    expect(heygen.mode).toBe(POLL);
    expect(modes.values).toEqual([SSE, POLL]);

    // The next subscriber runs on the new transport.
    const jobId = await heygen.createJob({ durationMs: 100 });
    await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);
    expect(server.stats().requests.stream).toBeUndefined();
    expect(server.stats().requests.batch).toBeGreaterThan(0);
  });
});

describe('fallback', () => {
  it('polls during an SSE outage and returns to SSE', async () => {
    const { server, url } = await resources.startServer({ retryMs: 20 });
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      fallback: true,
      pollInterval: 40,
      fetch: counting.fetch,
      sseRetry: { minDelayMs: 20, maxDelayMs: 100, maxAttempts: 2 },
    });
    const jobIds = await Promise.all(
      Array.from({ length: 5 }, () => heygen.createJob({ durationMs: 600 })),
    );
    const modes = record(heygen.mode$);
    const subscribers = jobIds.flatMap((jobId) => [
      record(heygen.jobStatus$(jobId)),
      record(heygen.jobStatus$(jobId)),
    ]);
    const waits = jobIds.map((jobId) => heygen.waitForJob(jobId));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    server.faults.dropStreams();
    server.faults.refuseStreams(200);
    await waitFor('mode$ to move to POLL and back to SSE', () => modes.values.length >= 3);

    expect(modes.values).toEqual([SSE, POLL, SSE]);
    expect(counting.batchRequests().length).toBeGreaterThan(0);
    expect(server.stats().responses['503']).toBeGreaterThan(0);
    for (const [index, subscriber] of subscribers.entries()) {
      await finishOf(subscriber, `subscriber ${index} to finish`);
      expectCompletedOnce(subscriber, `subscriber ${index}`);
    }
    const finalJobs = await withTimeout(Promise.all(waits), 'every waitForJob');
    expect(finalJobs.map((job) => job.status)).toEqual(Array(5).fill('completed'));
    expect(modes.values).toEqual([SSE, POLL, SSE]);
  });

  it('polls while every stream is refused', async () => {
    const { server, url } = await resources.startServer();
    const tracked = trackedEventSource();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource: tracked.EventSource,
      fallback: true,
      pollInterval: 40,
      sseRetry: { minDelayMs: 20, maxDelayMs: 40, maxAttempts: 2 },
    });
    const clock = await startPollClock(resources, url, 40);
    server.faults.refuseStreams(60_000);
    const jobId = await heygen.createJob({ durationMs: 300 });
    const modes = record(heygen.mode$);

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), `job ${jobId} to finish`);

    expectCompletedOnce(recording, 'the subscriber');
    expect(modes.values).toEqual([SSE, POLL]);
    expect(tracked.instances.length).toBeGreaterThan(1);
    // With no job watched, the client stops probing for the stream.
    const probes = tracked.instances.length;
    for (const source of tracked.instances) expect(source.readyState).toBe(CLOSED);
    await clock.waitForPolls(3);
    expect(tracked.instances).toHaveLength(probes);
  });

  it('resumes a dropped stream without polling', async () => {
    const { server, url } = await resources.startServer({ retryMs: 20 });
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      fallback: true,
      fetch: counting.fetch,
    });
    const serverStates = recordServerStates(server, resources);
    const jobId = await heygen.createJob({ durationMs: 500 });
    const modes = record(heygen.mode$);
    const recording = record(heygen.jobStatus$(jobId));
    await waitFor(`job ${jobId} to be processing`, () =>
      recording.values.some((job) => job.status === 'processing'),
    );

    server.faults.dropStreams();
    await finishOf(recording, `job ${jobId} to finish`);

    expectCompletedOnce(recording, 'the subscriber');
    expect(server.stats().requests.stream).toBe(2);
    expect(modes.values).toEqual([SSE]);
    // Only snapshot reads: one when the transport starts and one after the reconnection, no polling.
    expect(counting.batchRequests().length).toBeLessThanOrEqual(2);
    // The reconnection resumes after the last event id, so the subscriber misses no state.
    const states = recording.values.map(stateOf);
    const all = serverStates.get(jobId) ?? [];
    expect(states.slice(1)).toEqual(all.slice(all.indexOf(states[1] ?? '')));
  });

  it('errors subscribers with SSEError without fallback', async () => {
    const { server, url } = await resources.startServer({ retryMs: 20 });
    const tracked = trackedEventSource();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource: tracked.EventSource,
      sseRetry: { minDelayMs: 10, maxDelayMs: 50, maxAttempts: 2 },
    });
    const jobIds = await Promise.all([
      heygen.createJob({ durationMs: LONG_JOB_MS }),
      heygen.createJob({ durationMs: LONG_JOB_MS }),
    ]);
    const modes = record(heygen.mode$);
    const subscribers = jobIds.map((jobId) => record(heygen.jobStatus$(jobId)));
    const waitError = rejectionOf(heygen.waitForJob(jobIds[0] as string), 'waitForJob');
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    server.faults.dropStreams();
    server.faults.refuseStreams(10_000);

    for (const [index, subscriber] of subscribers.entries()) {
      await finishOf(subscriber, `subscriber ${index} to error`);
      expect(subscriber.error).toBeInstanceOf(SSEError);
      expect(subscriber.completed).toBe(false);
    }
    expect(await waitError).toBeInstanceOf(SSEError);
    expect((await waitError) as SSEError).toHaveProperty('url', `${url}/status`);
    for (const source of tracked.instances) expect(source.readyState).toBe(CLOSED);
    expect(server.stats().openStreams).toBe(0);
    expect(modes.values).toEqual([SSE]);
  });

  it.each([
    { fallback: true, outcome: 'polls' },
    { fallback: false, outcome: 'errors with SSEError' },
  ])('over the stream limit, fallback $fallback $outcome', async ({ fallback }) => {
    const { server, url } = await resources.startServer({ limits: { maxStreamsPerClient: 1 } });
    const options = {
      url,
      mode: SSE,
      EventSource,
      fallback,
      pollInterval: 40,
      sseRetry: { minDelayMs: 10, maxDelayMs: 20, maxAttempts: 2 },
    };
    const first = resources.createClient(options);
    const second = resources.createClient({ ...options, clientId: first.clientId });
    const blocker = await first.createJob({ durationMs: LONG_JOB_MS });
    record(first.jobStatus$(blocker));
    await waitFor('the first stream to open', () => server.stats().openStreams === 1);
    const jobId = await second.createJob({ durationMs: 200 });

    const recording = await finishOf(record(second.jobStatus$(jobId)), `job ${jobId} to finish`);

    expect(server.stats().responses['429']).toBeGreaterThan(0);
    if (fallback) {
      expectCompletedOnce(recording, 'the second client');
      expect(second.mode).toBe(POLL);
    } else {
      expect(recording.error).toBeInstanceOf(SSEError);
      expect((recording.error as SSEError).message).toContain('429');
    }
  });

  it('keeps an idle stream alive with heartbeats', async () => {
    // The first status change comes after 500 ms, so only heartbeats every 50 ms can keep the stall
    // timer of 300 ms from firing before it.
    const { server, url } = await resources.startServer({ heartbeatMs: 50 });
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      sseRetry: { stallTimeoutMs: 300 },
    });
    const jobId = await heygen.createJob({ durationMs: 2500 });
    const recording = record(heygen.jobStatus$(jobId));

    await waitFor(
      `job ${jobId} to report progress`,
      () => recording.error !== undefined || recording.values.some((job) => job.progress > 0),
    );

    expect(recording.error).toBeUndefined();
    expect(server.stats().requests.stream).toBe(1);
  });
});

describe('request retries', () => {
  it('retries a poll that failed with 503', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL, pollInterval: 40 });
    const jobId = await heygen.createJob({ durationMs: 200 });
    server.faults.setErrorRate(1, 503);

    const recording = record(heygen.jobStatus$(jobId));
    await waitFor('a 503 response', () => (server.stats().responses['503'] ?? 0) > 0);
    server.faults.reset();
    await finishOf(recording, `job ${jobId} to finish`);

    expectCompletedOnce(recording, 'the subscriber');
  });
});

describe('AUTO mode', () => {
  it('polls when no EventSource exists', async () => {
    expect((globalThis as { EventSource?: unknown }).EventSource).toBeUndefined();
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: AUTO, pollInterval: 40 });
    const modes = record(heygen.mode$);

    const jobId = await heygen.createJob({ durationMs: 200 });
    const job = await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(job.status).toBe('completed');
    expect(heygen.mode).toBe(POLL);
    expect(modes.values).toEqual<ActiveTransport[]>([POLL]);
    expect(server.stats().requests.stream).toBeUndefined();
    expect(server.stats().requests.batch).toBeGreaterThan(0);
  });

  it('uses SSE when an EventSource is passed', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: AUTO, EventSource });

    const jobId = await heygen.createJob({ durationMs: 200 });
    await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(heygen.mode).toBe(SSE);
    expect(server.stats().requests.stream).toBe(1);
  });
});

describe('SSE mode without an EventSource', () => {
  it('errors with SSEError that names the option', async () => {
    const { url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE });
    const jobId = await heygen.createJob({ durationMs: 200 });

    const error = await rejectionOf(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(error).toBeInstanceOf(SSEError);
    expect((error as SSEError).message).toContain('EventSource option');
  });

  it('polls instead with fallback', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, fallback: true, pollInterval: 40 });
    const jobId = await heygen.createJob({ durationMs: 200 });

    const job = await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(job.status).toBe('completed');
    expect(heygen.mode).toBe(POLL);
    expect(server.stats().requests.batch).toBeGreaterThan(0);
  });
});
