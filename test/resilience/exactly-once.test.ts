import { EventSource } from 'eventsource';
import { type ActiveTransport, HeyGenStatusListenerMode } from '../../src';
import {
  CountingFetch,
  expectCompletedOnce,
  finishOf,
  idsOf,
  record,
  startPollClock,
  stateOf,
  useResources,
  waitFor,
} from '../helpers/sdk';
import { makeJob, openStream, ScenarioServer, statusEvent } from './helpers/scenario-server';

const { SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();
let scenarios: ScenarioServer;

beforeAll(async () => {
  scenarios = await ScenarioServer.start();
});

afterAll(async () => {
  await scenarios.close();
});

/** Server-side duration of jobs that must outlive the test. Closing the server clears their timers. */
const LONG_JOB_MS = 60_000;

describe('snapshot after a reconnect or switch', () => {
  it('one snapshot after a reconnect', async () => {
    const { server, url } = await resources.startServer({ retryMs: 50 });
    const clock = await startPollClock(resources, url, 50);
    const counting = new CountingFetch();
    const heygen = resources.createClient({ url, mode: SSE, EventSource, fetch: counting.fetch });
    const jobIds = await Promise.all(
      [1, 2, 3].map(() => heygen.createJob({ durationMs: LONG_JOB_MS })),
    );
    for (const jobId of jobIds) record(heygen.jobStatus$(jobId));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);
    await clock.waitForPolls(3);
    const batchesBefore = counting.batchRequests().length;

    server.faults.dropStreams();
    await waitFor('the stream to reopen', () => server.stats().requests.stream === 2);
    await waitFor('a snapshot request', () => counting.batchRequests().length > batchesBefore);
    await clock.waitForPolls(5);

    const snapshots = counting.batchRequests().slice(batchesBefore);
    expect(snapshots).toHaveLength(1);
    expect(idsOf(snapshots[0] as never).sort()).toEqual([...jobIds].sort());
    expect(server.stats().openStreams).toBe(1);
  });

  it('one snapshot per fallback switch', async () => {
    const { server, url } = await resources.startServer({ retryMs: 50 });
    const clock = await startPollClock(resources, url, 50);
    const counting = new CountingFetch();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      fallback: true,
      pollInterval: 100,
      fetch: counting.fetch,
      sseRetry: { minDelayMs: 50, maxDelayMs: 200 },
    });
    const jobIds = await Promise.all(
      [1, 2, 3].map(() => heygen.createJob({ durationMs: LONG_JOB_MS })),
    );
    const modeChanges: Array<{ mode: ActiveTransport; at: number }> = [];
    heygen.mode$.subscribe((mode) => modeChanges.push({ mode, at: Date.now() }));
    for (const jobId of jobIds) record(heygen.jobStatus$(jobId));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    server.faults.refuseStreams(400);
    server.faults.dropStreams();
    await waitFor('the return to SSE', () => modeChanges.length === 3);
    await clock.waitForPolls(5);

    expect(modeChanges.map((change) => change.mode)).toEqual([SSE, POLL, SSE]);
    const [, fellBack, recovered] = modeChanges;
    const batches = counting.batchRequests();
    // Every poll covers all watched jobs in one request.
    for (const batch of batches.filter((request) => request.startedAt >= (fellBack?.at ?? 0))) {
      expect(idsOf(batch).sort()).toEqual([...jobIds].sort());
    }
    // Back on SSE: one snapshot, then no more polls.
    const afterRecovery = batches.filter((request) => request.startedAt >= (recovered?.at ?? 0));
    expect(afterRecovery).toHaveLength(1);
  });
});

describe('status order', () => {
  it('never moves back after a stale snapshot', async () => {
    const jobA = 'job-a';
    const jobB = 'job-b';
    const scenario = scenarios.add('stale-snapshot', {
      jobs: [makeJob(jobA, 'processing', 10), makeJob(jobB, 'processing', 10)],
      stream: ({ res, request, scenario: self }) => {
        openStream(res);
        if (request.index > 0) {
          // The snapshot after the reconnection is older than what the first stream sent.
          self.setJob(makeJob(jobA, 'processing', 50));
          return;
        }
        res.write(statusEvent(makeJob(jobA, 'processing', 50), 1));
        res.write(statusEvent(makeJob(jobA, 'completed'), 2));
        // Closing at once makes the client reconnect and take a snapshot.
        res.end();
      },
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: SSE,
      EventSource,
      sseRetry: { minDelayMs: 50, maxDelayMs: 200 },
    });
    const recordingA = record(heygen.jobStatus$(jobA));
    const recordingB = record(heygen.jobStatus$(jobB));

    await finishOf(recordingA, 'job A to complete');
    const reconnected = await waitFor('the reconnection', () => scenario.streams()[1]);
    await waitFor('the snapshot after the reconnection to be answered', () =>
      scenario
        .batches()
        .some((batch) => batch.startedAt >= reconnected.startedAt && batch.endedAt !== undefined),
    );
    const lateSubscriber = await finishOf(record(heygen.jobStatus$(jobA)), 'a late subscriber');

    expectCompletedOnce(recordingA, 'job A');
    expect(lateSubscriber.values.map(stateOf)).toEqual(['completed:100']);
    expect(lateSubscriber.completed).toBe(true);
    expect(recordingB.error).toBeUndefined();
  });

  it('terminal status once from both sources', async () => {
    const jobA = 'job-a';
    const scenario = scenarios.add('double-terminal', {
      jobs: [makeJob(jobA, 'completed'), makeJob('job-b', 'processing', 10)],
      stream: ({ res }) => {
        openStream(res);
        res.write(statusEvent(makeJob(jobA, 'completed'), 3));
      },
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });
    record(heygen.jobStatus$('job-b'));
    const subscribers = [record(heygen.jobStatus$(jobA)), record(heygen.jobStatus$(jobA))];
    const listened: string[] = [];
    heygen.listen(jobA, (_id, status) => listened.push(status));

    for (const [index, subscriber] of subscribers.entries()) {
      await finishOf(subscriber, `subscriber ${index} to finish`);
      expectCompletedOnce(subscriber, `subscriber ${index}`);
    }
    await waitFor('the stream to carry job A too', () => scenario.streams().length > 0);
    expect(listened).toEqual(['completed']);
  });
});
