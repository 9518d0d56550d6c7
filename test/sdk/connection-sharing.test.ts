import { EventSource } from 'eventsource';
import { firstValueFrom } from 'rxjs';
import { HeyGenStatusListenerMode } from '../../src';
import {
  CountingFetch,
  finishOf,
  idsOf,
  maxConcurrent,
  record,
  startPollClock,
  type RecordedRequest,
  trackedEventSource,
  useResources,
  waitFor,
  waitForServerStatus,
} from '../helpers/sdk';

const { SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();

/** Server-side duration of jobs that must outlive the test. Closing the server clears their timers. */
const LONG_JOB_MS = 30_000;

/** `readyState` of a closed EventSource, from the HTML standard. */
const CLOSED = 2;

describe('laziness', () => {
  it('sends no request before the first subscriber', async () => {
    const { server, url } = await resources.startServer();
    const counting = new CountingFetch();
    const tracked = trackedEventSource();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource: tracked.EventSource,
      fetch: counting.fetch,
    });
    const jobId = await heygen.createJob({ durationMs: 100 });
    const requestsAfterCreate = counting.requests.length;

    const status$ = heygen.jobStatus$(jobId);
    const modes = record(heygen.mode$);
    await waitForServerStatus(server, heygen.clientId, jobId, 'completed');

    expect(counting.requests.length).toBe(requestsAfterCreate);
    expect(tracked.instances).toHaveLength(0);
    expect(server.stats().requests.stream).toBeUndefined();
    expect(modes.values).toEqual([SSE]);

    const recording = await finishOf(record(status$), `job ${jobId} to finish`);

    expect(recording.completed).toBe(true);
    expect(tracked.instances).toHaveLength(1);
  });
});

describe('SSE connection sharing', () => {
  it('serves two subscribers of one job with one stream', async () => {
    const { server, url } = await resources.startServer();
    const tracked = trackedEventSource();
    const heygen = resources.createClient({ url, mode: SSE, EventSource: tracked.EventSource });
    const jobId = await heygen.createJob({ durationMs: 300 });

    const first = record(heygen.jobStatus$(jobId));
    const second = record(heygen.jobStatus$(jobId));
    await finishOf(first, 'the first subscriber to finish');
    await finishOf(second, 'the second subscriber to finish');

    expect(first.completed).toBe(true);
    expect(second.completed).toBe(true);
    expect(first.values.filter((job) => job.status === 'completed')).toHaveLength(1);
    expect(second.values.filter((job) => job.status === 'completed')).toHaveLength(1);
    expect(tracked.instances).toHaveLength(1);
    expect(server.stats().requests.stream).toBe(1);
  });

  it('watches 20 jobs over one stream', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobIds = await Promise.all(
      Array.from({ length: 20 }, (_, index) => heygen.createJob({ durationMs: 300 + index * 10 })),
    );
    let maxOpenStreams = 0;
    const sampleStreams = (): void => {
      maxOpenStreams = Math.max(maxOpenStreams, server.stats().openStreams);
    };

    const recordings = jobIds.map((jobId) => record(heygen.jobStatus$(jobId)));
    await waitFor('all 20 jobs to finish', () => {
      sampleStreams();
      return recordings.every((recording) => recording.completed || recording.error);
    });

    for (const recording of recordings) {
      expect(recording.error).toBeUndefined();
      expect(recording.values.at(-1)?.status).toBe('completed');
    }
    expect(maxOpenStreams).toBe(1);
    expect(server.stats().requests.stream).toBe(1);
  });

  it('opens no stream for firstValueFrom', async () => {
    const { url } = await resources.startServer();
    const tracked = trackedEventSource();
    const heygen = resources.createClient({ url, mode: SSE, EventSource: tracked.EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });

    // The state from the create response arrives synchronously, and firstValueFrom then unsubscribes.
    const job = await firstValueFrom(heygen.jobStatus$(jobId));

    expect(job.status).toBe('pending');
    expect(tracked.instances).toHaveLength(0);
  });

  it('closes the stream when the last subscriber leaves', async () => {
    const { server, url } = await resources.startServer();
    const tracked = trackedEventSource();
    const heygen = resources.createClient({ url, mode: SSE, EventSource: tracked.EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });
    const first = record(heygen.jobStatus$(jobId));
    const second = record(heygen.jobStatus$(jobId));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    first.subscription.unsubscribe();

    expect(tracked.instances[0]?.readyState).not.toBe(CLOSED);

    second.subscription.unsubscribe();

    expect(tracked.instances[0]?.readyState).toBe(CLOSED);
    await waitFor('the server to see the stream close', () => server.stats().openStreams === 0);
    expect(tracked.instances).toHaveLength(1);
  });
});

describe('polling', () => {
  it('polls 20 jobs with one request at a time', async () => {
    const pollInterval = 50;
    const latencyMs = 150;
    const { server, url } = await resources.startServer();
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: POLL,
      pollInterval,
      fetch: counting.fetch,
    });
    const jobIds = await Promise.all(
      Array.from({ length: 20 }, () => heygen.createJob({ durationMs: 600 })),
    );
    // Every request now takes longer than the poll interval: a timer-driven poller would overlap them.
    server.faults.setLatency(latencyMs);

    const recordings = jobIds.map((jobId) => record(heygen.jobStatus$(jobId)));
    await waitFor('all 20 jobs to complete', () =>
      recordings.every((recording) => recording.completed),
    );

    const polls = counting.batchRequests();
    expect(maxConcurrent(polls)).toBe(1);
    expect(polls.length).toBeGreaterThanOrEqual(3);
    for (let index = 1; index < polls.length; index += 1) {
      const previous = polls[index - 1];
      const next = polls[index];
      // Timers never fire early, so the pause is at least the interval; 2 ms cover clock rounding.
      expect((next?.startedAt ?? 0) - (previous?.endedAt ?? Infinity)).toBeGreaterThanOrEqual(
        pollInterval - 2,
      );
    }
    // The jobs were subscribed in one synchronous loop, so the first poll already requests all of
    // them. Later polls request only the jobs that have not finished.
    expect(idsOf(polls[0] as RecordedRequest).sort()).toEqual([...jobIds].sort());
    for (const poll of polls) {
      const ids = idsOf(poll);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(jobIds).toContain(id);
    }
    expect(server.stats().requests.batch).toBe(polls.length);
  });

  it('splits 101 jobs into two requests', async () => {
    const { server, url } = await resources.startServer();
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: POLL,
      pollInterval: 40,
      fetch: counting.fetch,
    });
    const jobIds = await Promise.all(
      Array.from({ length: 101 }, () => heygen.createJob({ durationMs: 400 })),
    );

    const recordings = jobIds.map((jobId) => record(heygen.jobStatus$(jobId)));
    await waitFor('all 101 jobs to finish', () =>
      recordings.every((recording) => recording.completed || recording.error !== undefined),
    );

    for (const recording of recordings) expect(recording.error).toBeUndefined();
    const polls = counting.batchRequests();
    expect(Math.max(...polls.map((poll) => idsOf(poll).length))).toBe(100);
    expect(idsOf(polls[0] as RecordedRequest)).toHaveLength(100);
    expect(idsOf(polls[1] as RecordedRequest)).toHaveLength(1);
    expect(maxConcurrent(polls)).toBe(1);
    expect(server.stats().responses['400']).toBeUndefined();
  });

  it('stops polling when the last subscriber leaves', async () => {
    const pollInterval = 40;
    const { url } = await resources.startServer();
    const counting = new CountingFetch();
    const heygen = resources.createClient({ url, mode: POLL, pollInterval, fetch: counting.fetch });
    const clock = await startPollClock(resources, url, pollInterval);
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });
    const recording = record(heygen.jobStatus$(jobId));
    await waitFor('two polls', () => counting.batchRequests().length >= 2);

    recording.subscription.unsubscribe();
    const pollsAtUnsubscribe = counting.batchRequests().length;
    await clock.waitForPolls(3);

    expect(counting.batchRequests().length).toBe(pollsAtUnsubscribe);
    expect(counting.inFlight).toBe(0);
  });
});
