import { EventSource } from 'eventsource';
import { AuthError, HeyGenStatusListenerMode, SSEError, type SseRetryOptions } from '../../src';
import { finishOf, type Recording, record, useResources, waitFor } from '../helpers/sdk';
import { codelessEventSource, startScenarioClock } from './helpers/client';
import { type Handler, makeJob, routes, ScenarioServer } from './helpers/scenario-server';

const { AUTO, SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

const RETRY: Required<SseRetryOptions> = {
  minDelayMs: 50,
  maxDelayMs: 400,
  maxAttempts: 2,
  stallTimeoutMs: 0,
};

const POLL_INTERVAL_MS = 100;

/**
 * Returns the highest number of stream connection attempts that can start within `windowMs`: the
 * first one, then one after each backoff delay, each at least half its ceiling and at least
 * `minDelayMs` (see `backoffDelay`).
 */
function maxAttemptsWithin(windowMs: number, retry: Required<SseRetryOptions>): number {
  let attempts = 1;
  let earliest = 0;
  for (let retryNumber = 1; ; retryNumber += 1) {
    const ceiling = Math.min(retry.maxDelayMs, retry.minDelayMs * 2 ** retryNumber);
    earliest += Math.max(retry.minDelayMs, ceiling / 2);
    if (earliest > windowMs) return attempts;
    attempts += 1;
  }
}

describe('hard SSE failures with fallback', () => {
  it.each([
    { what: '200 with text/html', stream: routes.htmlPage(200) },
    { what: 'a reset on every connect', stream: routes.resetConnection() },
    { what: '404', stream: routes.status(404) },
    { what: '204', stream: routes.status(204) },
  ])('$what: polls with bounded requests', async ({ stream }) => {
    const jobId = 'job-hard-failure';
    const scenario = server.add('hard-failure', {
      jobs: [makeJob(jobId, 'processing', 10)],
      stream,
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: AUTO,
      EventSource,
      fallback: true,
      pollInterval: POLL_INTERVAL_MS,
      sseRetry: RETRY,
    });
    const modes = record(heygen.mode$);
    const recording = record(heygen.jobStatus$(jobId));
    await waitFor('the first stream request', () => scenario.streams().length > 0);
    const windowStart = scenario.streams()[0]?.startedAt ?? Date.now();

    await waitFor('12 polls', () => scenario.batches().length >= 12);

    const windowMs = Date.now() - windowStart;
    expect(modes.values).toEqual([SSE, POLL]);
    expect(scenario.streams().length).toBeLessThanOrEqual(maxAttemptsWithin(windowMs, RETRY));
    // One lookup of the new job, then at most one poll per interval.
    const maxBatches = 1 + Math.ceil(windowMs / POLL_INTERVAL_MS) + 1;
    expect(scenario.batches().length).toBeLessThanOrEqual(maxBatches);

    scenario.setJob(makeJob(jobId, 'completed'));
    await finishOf(recording, 'the job to complete by polling');
    expect(recording.error).toBeUndefined();
  });

  it('polls in AUTO mode without an EventSource', async () => {
    const jobId = 'job-no-event-source';
    const scenario = server.add('no-event-source', { jobs: [makeJob(jobId, 'completed')] });
    const heygen = resources.createClient({ url: scenario.url, mode: AUTO, pollInterval: 50 });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    expect(heygen.mode).toBe(POLL);
    expect(scenario.streams()).toEqual([]);
  });

  it('SSE mode without EventSource falls back', async () => {
    const jobId = 'job-no-event-source-fallback';
    const scenario = server.add('no-event-source', { jobs: [makeJob(jobId, 'completed')] });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      fallback: true,
      pollInterval: 50,
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    expect(heygen.mode).toBe(POLL);
  });

  it('SSE mode without EventSource errors', async () => {
    const scenario = server.add('no-event-source', { jobs: [makeJob('job-x', 'processing')] });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE });

    const recording = await finishOf(record(heygen.jobStatus$('job-x')), 'the subscriber to error');

    expect(recording.error).toBeInstanceOf(SSEError);
    expect(scenario.requests).toEqual([]);
  });
});

describe('rejected client id', () => {
  /** Checks that every recording ended with one AuthError of `status` and nothing else. */
  function expectOneAuthError(recordings: Array<Recording<unknown>>, status: number): void {
    for (const recording of recordings) {
      expect(recording.error).toBeInstanceOf(AuthError);
      expect(recording.error).toHaveProperty('status', status);
      expect(recording.completed).toBe(false);
    }
  }

  it.each([401, 403])('stream %i gives one AuthError each', async (status) => {
    const scenario = server.add('auth-stream', {
      jobs: [makeJob('job-a', 'processing', 10), makeJob('job-b', 'processing', 10)],
      stream: routes.status(status),
    });
    const clock = startScenarioClock(server, resources, 50);
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      fallback: true,
      pollInterval: 50,
      sseRetry: RETRY,
    });
    const recordings = [
      record(heygen.jobStatus$('job-a')),
      record(heygen.jobStatus$('job-a')),
      record(heygen.jobStatus$('job-b')),
    ];

    for (const recording of recordings) await finishOf(recording, 'a subscriber to error');

    expectOneAuthError(recordings, status);
    // Requests already sent when the error arrived may still reach the server; none may follow.
    await clock.waitForPolls(2);
    const requestsAfterError = scenario.requests.length;
    await clock.waitForPolls(5);
    expect(scenario.streams()).toHaveLength(1);
    expect(scenario.requests).toHaveLength(requestsAfterError);
  });

  it('polling reports a codeless 401', async () => {
    // A browser's native EventSource reports a 401 as a bare error event. Polling must then
    // surface the rejected client id instead of hiding it behind retries.
    const rejectAll: Handler = routes.status(401);
    const scenario = server.add('auth-codeless', {
      jobs: [makeJob('job-a', 'processing', 10)],
      stream: rejectAll,
      batch: rejectAll,
    });
    const clock = startScenarioClock(server, resources, 50);
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource: codelessEventSource(),
      fallback: true,
      pollInterval: 50,
      sseRetry: RETRY,
    });
    const recordings = [record(heygen.jobStatus$('job-a')), record(heygen.jobStatus$('job-a'))];

    for (const recording of recordings) await finishOf(recording, 'a subscriber to error');

    expectOneAuthError(recordings, 401);
    await clock.waitForPolls(2);
    const requestsAfterError = scenario.requests.length;
    // The snapshot for the new stream and the first poll after the fallback, at most.
    expect(scenario.batches().length).toBeLessThanOrEqual(2);
    expect(scenario.streams()).toHaveLength(1);
    await clock.waitForPolls(5);
    expect(scenario.requests).toHaveLength(requestsAfterError);
  });

  it('a 401 poll is not retried', async () => {
    const scenario = server.add('auth-poll', {
      jobs: [makeJob('job-a', 'processing', 10)],
      batch: routes.status(401),
    });
    const clock = startScenarioClock(server, resources, 50);
    const heygen = resources.createClient({ url: scenario.url, mode: POLL, pollInterval: 50 });

    const recording = await finishOf(record(heygen.jobStatus$('job-a')), 'the subscriber to error');

    expectOneAuthError([recording], 401);
    await clock.waitForPolls(5);
    expect(scenario.batches()).toHaveLength(1);
  });
});
