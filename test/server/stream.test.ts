import { EventSource } from 'eventsource';
import type { Job, MockServer, MockServerOptions } from '../../mock-server';
import { waitFor, withTimeout } from '../helpers/waitFor';
import { RawStream } from './support/rawStream';
import { CLIENT_A, CLIENT_B, startServer } from './support/server';

let server: MockServer;
let url: string;
const streams: RawStream[] = [];

async function start(options: MockServerOptions = {}): Promise<void> {
  ({ server, url } = await startServer({ jobTimeMs: 60_000, ...options }));
}

async function openStream(
  clientId: string = CLIENT_A,
  headers: Record<string, string> = {},
  query = '',
): Promise<RawStream> {
  const stream = await RawStream.open(`${url}/status${query}`, {
    'X-Client-Id': clientId,
    ...headers,
  });
  streams.push(stream);
  return stream;
}

/** Resolves when the store reports the job as completed or failed. */
async function waitForJobEnd(clientId: string, jobId: string): Promise<Job> {
  return waitFor(`job ${jobId} to finish`, () => {
    const job = server.store.get(clientId, jobId);
    return job?.status === 'completed' || job?.status === 'failed' ? job : undefined;
  });
}

afterEach(async () => {
  for (const stream of streams.splice(0)) {
    stream.close();
  }
  await server.close();
});

describe('stream framing', () => {
  test('sends proxy-safe headers', async () => {
    await start();
    const stream = await openStream();

    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
    expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
    expect(stream.headers['x-accel-buffering']).toBe('no');
    expect(stream.headers.connection).toBe('keep-alive');
    expect(stream.headers['x-request-id']).toBeDefined();
  });

  test('starts with retry and connected comment', async () => {
    await start({ retryMs: 2500 });
    const stream = await openStream();
    await stream.waitForText('\n\n');

    expect(stream.text).toMatch(/^retry: 2500\n: connected conn-\d+\n\n/);
    const [first] = stream.blocks();
    expect(first?.retry).toBe('2500');
    expect(first?.comments[0]).toMatch(/^connected conn-\d+$/);
    expect(first?.event).toBeUndefined();
  });

  test('connected comment precedes snapshot events', async () => {
    await start();
    server.store.createJob(CLIENT_A);
    server.store.createJob(CLIENT_A);

    const stream = await openStream();
    await stream.waitForStatusEvents(2, 'snapshot of two jobs');

    expect(stream.text.indexOf(': connected')).toBeLessThan(stream.text.indexOf('event:'));
    expect(stream.blocks()[0]?.event).toBeUndefined();
  });

  test('each connection gets its own id', async () => {
    await start();
    const first = await openStream();
    const second = await openStream();
    await first.waitForText('connected');
    await second.waitForText('connected');

    expect(first.blocks()[0]?.comments[0]).not.toBe(second.blocks()[0]?.comments[0]);
  });

  test('frames status events with consecutive ids', async () => {
    await start();
    const stream = await openStream();
    await stream.waitForText('connected');

    const job = server.store.createJob(CLIENT_A, { durationMs: 60 });
    const events = await stream.waitForStatusEvents(6, 'full run of one job');

    const ids = events.map((event) => Number(event.id));
    for (let index = 1; index < ids.length; index += 1) {
      expect(ids[index]).toBe((ids[index - 1] as number) + 1);
    }
    expect(events.map((event) => event.job.status)).toEqual([
      'pending',
      'processing',
      'processing',
      'processing',
      'processing',
      'completed',
    ]);
    expect(events.every((event) => event.job.id === job.id)).toBe(true);
    expect(events.at(-1)?.job).toEqual(server.store.get(CLIENT_A, job.id));

    const rawEvent = stream.text.slice(stream.text.indexOf('id: '));
    expect(rawEvent).toMatch(/^id: \d+\nevent: status\ndata: \{[^\n]*\}\n\n/);
  });

  test('sends heartbeat comment and event', async () => {
    await start({ heartbeatMs: 20 });
    const stream = await openStream();
    const before = Date.now();

    await stream.waitForText('event: heartbeat\n');
    await stream.waitForText('\n\n', stream.text.indexOf('event: heartbeat'));
    const heartbeat = stream.blocks().find((block) => block.event === 'heartbeat');
    expect(heartbeat?.comments).toEqual(['heartbeat']);
    expect(heartbeat?.id).toBeUndefined();
    expect(heartbeat?.data).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(heartbeat?.data ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(stream.text).toMatch(/\n\n: heartbeat\nevent: heartbeat\ndata: [^\n]+\n\n/);
    expect(server.stats().timers).toBe(1);
  });

  test('accepts Accept list with other types', async () => {
    await start();
    const stream = await openStream(CLIENT_A, {
      Accept: 'application/json, Text/Event-Stream;q=0.9',
    });

    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('text/event-stream');
  });

  test('stream wins over ids', async () => {
    await start();
    const stream = await openStream(CLIENT_A, {}, '?ids=not/valid');

    expect(stream.status).toBe(200);
    await stream.waitForText('connected');
  });

  test('uuid query parameter identifies the client', async () => {
    await start();
    const job = server.store.createJob(CLIENT_A);
    const stream = await RawStream.open(`${url}/status?uuid=${CLIENT_A}`);
    streams.push(stream);

    const [event] = await stream.waitForStatusEvents(1, 'snapshot through uuid');
    expect(event?.job.id).toBe(job.id);
  });

  test('missing or invalid client id is rejected', async () => {
    await start();

    const missing = await RawStream.open(`${url}/status`);
    streams.push(missing);
    expect(missing.status).toBe(401);
    await missing.waitForEnd();
    expect(JSON.parse(missing.text)).toHaveProperty('error');

    const invalid = await openStream('no spaces allowed');
    expect(invalid.status).toBe(400);
    expect(server.stats().openStreams).toBe(0);
  });
});

describe('snapshot and replay', () => {
  /** Opens a stream, runs one job of `durationMs` to its end and returns its six events. */
  async function runJobWhileConnected(durationMs = 30) {
    const stream = await openStream();
    await stream.waitForText('connected');
    const job = server.store.createJob(CLIENT_A, { durationMs });
    const events = await stream.waitForStatusEvents(6, 'full run of one job');
    stream.close();
    await waitFor('the server to see the disconnect', () => server.stats().openStreams === 0);
    return { job, events };
  }

  test('snapshot includes job completed before connecting', async () => {
    await start();
    const done = server.store.createJob(CLIENT_A, { durationMs: 5 });
    await waitForJobEnd(CLIENT_A, done.id);
    const running = server.store.createJob(CLIENT_A);

    const stream = await openStream();
    const events = await stream.waitForStatusEvents(2, 'snapshot');

    expect(events.map((event) => event.job)).toEqual([
      server.store.get(CLIENT_A, done.id),
      server.store.get(CLIENT_A, running.id),
    ]);
    expect(events[0]?.job.status).toBe('completed');
    expect(events[0]?.id).toBe(events[1]?.id);
  });

  test('snapshot over 1 MiB is delivered whole', async () => {
    await start();
    // About 200 bytes per event: 6,000 jobs make a snapshot well past the 1 MiB soft limit.
    const jobCount = 6000;
    for (let index = 0; index < jobCount; index += 1) {
      server.store.createJob(CLIENT_A, { durationMs: 600_000 });
    }

    const stream = await openStream();
    await waitFor(`${jobCount} snapshot events`, () => {
      return stream.text.split('event: status').length - 1 >= jobCount;
    });

    expect(stream.text.length).toBeGreaterThan(1024 * 1024);
    expect(stream.ended).toBe(false);
    expect(server.stats().openStreams).toBe(1);
  });

  test('snapshot ids equal the current sequence', async () => {
    await start();
    const { events } = await runJobWhileConnected();

    const stream = await openStream();
    const [snapshot] = await stream.waitForStatusEvents(1, 'snapshot');

    expect(snapshot?.id).toBe(events.at(-1)?.id);
  });

  test('snapshot omits evicted jobs', async () => {
    await start({ finishedTtlMs: 10 });
    const job = server.store.createJob(CLIENT_A, { durationMs: 5 });
    await waitFor('eviction', () => server.stats().jobs === 0);
    const live = server.store.createJob(CLIENT_A);

    const stream = await openStream();
    const events = await stream.waitForStatusEvents(1, 'snapshot');

    expect(events.map((event) => event.job.id)).toEqual([live.id]);
    expect(events.map((event) => event.job.id)).not.toContain(job.id);
  });

  test('Last-Event-ID header replays later events', async () => {
    await start();
    const { events } = await runJobWhileConnected();
    const lastSeen = events[1]?.id as string;

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': lastSeen });
    const replayed = await stream.waitForStatusEvents(4, 'replay after the second event');

    expect(replayed).toEqual(events.slice(2));
  });

  test('lastEventId query replays later events', async () => {
    await start();
    const { events } = await runJobWhileConnected();
    const lastSeen = events[3]?.id as string;

    const stream = await openStream(CLIENT_A, {}, `?lastEventId=${lastSeen}`);
    const replayed = await stream.waitForStatusEvents(2, 'replay after the fourth event');

    expect(replayed).toEqual(events.slice(4));
  });

  test('header wins over lastEventId query', async () => {
    await start();
    const { events } = await runJobWhileConnected();

    const stream = await openStream(
      CLIENT_A,
      { 'Last-Event-ID': events[4]?.id as string },
      `?lastEventId=${events[0]?.id as string}`,
    );
    const replayed = await stream.waitForStatusEvents(1, 'replay after the fifth event');

    expect(replayed).toEqual(events.slice(5));
  });

  test('up-to-date id replays nothing', async () => {
    await start();
    const { events } = await runJobWhileConnected();
    const lastSeen = events.at(-1)?.id as string;

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': lastSeen });
    await stream.waitForText('connected');
    const next = server.store.createJob(CLIENT_A);
    const [first] = await stream.waitForStatusEvents(1, 'first event after connecting');

    // Had the server sent a snapshot or a replay, the first event would be the old job.
    expect(first?.job.id).toBe(next.id);
    expect(Number(first?.id)).toBe(Number(lastSeen) + 1);
  });

  test('falls back to snapshot when log is too short', async () => {
    await start({ limits: { replayLogSize: 3 } });
    const { job, events } = await runJobWhileConnected();

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': events[1]?.id as string });
    const received = await stream.waitForStatusEvents(1, 'snapshot fallback');

    expect(received).toHaveLength(1);
    expect(received[0]?.job).toEqual(server.store.get(CLIENT_A, job.id));
    expect(received[0]?.id).toBe(events.at(-1)?.id);
  });

  test('replays when log holds exactly the missed events', async () => {
    await start({ limits: { replayLogSize: 3 } });
    const { events } = await runJobWhileConnected();

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': events[2]?.id as string });
    const replayed = await stream.waitForStatusEvents(3, 'replay of the last three events');

    expect(replayed).toEqual(events.slice(3));
  });

  test.each([
    ['text', 'abc'],
    ['a negative number', '-1'],
    ['a fraction', '1.5'],
    ['an empty value', ''],
    ['a number above 2^53', '99999999999999999999'],
    ['a hex number', '0x10'],
  ])('Last-Event-ID with %s gets snapshot', async (_case, value) => {
    await start();
    const { job } = await runJobWhileConnected();

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': value });
    const received = await stream.waitForStatusEvents(1, 'snapshot for an ignored id');

    expect(stream.status).toBe(200);
    expect(received.map((event) => event.job)).toEqual([server.store.get(CLIENT_A, job.id)]);
  });

  test('id newer than the sequence gets snapshot', async () => {
    await start();
    const { job, events } = await runJobWhileConnected();
    const future = String(Number(events.at(-1)?.id) + 10);

    const stream = await openStream(CLIENT_A, {}, `?lastEventId=${future}`);
    const received = await stream.waitForStatusEvents(1, 'snapshot for a future id');

    expect(received.map((event) => event.job.id)).toEqual([job.id]);
  });

  test('ids of a removed client are not reused', async () => {
    await start({ finishedTtlMs: 5 });
    const { events } = await runJobWhileConnected(5);
    await waitFor('client state removal', () => server.stats().clients === 0);

    const stream = await openStream();
    await stream.waitForText('connected');
    server.store.createJob(CLIENT_A);
    const [first] = await stream.waitForStatusEvents(1, 'first event of the new sequence');

    expect(Number(first?.id)).toBeGreaterThan(Number(events.at(-1)?.id));
  });
});

describe('client isolation', () => {
  test('each stream carries only its client jobs', async () => {
    await start();
    const streamA = await openStream(CLIENT_A);
    const streamB = await openStream(CLIENT_B);
    await streamA.waitForText('connected');
    await streamB.waitForText('connected');

    const jobA = server.store.createJob(CLIENT_A, { durationMs: 20 });
    const jobB = server.store.createJob(CLIENT_B, { durationMs: 20, outcome: 'failed' });
    const eventsA = await streamA.waitForStatusEvents(6, 'client A run');
    const eventsB = await streamB.waitForStatusEvents(6, 'client B run');
    await waitForJobEnd(CLIENT_A, jobA.id);
    await waitForJobEnd(CLIENT_B, jobB.id);

    expect(new Set(eventsA.map((event) => event.job.id))).toEqual(new Set([jobA.id]));
    expect(new Set(eventsB.map((event) => event.job.id))).toEqual(new Set([jobB.id]));
    expect(streamA.statusEvents()).toHaveLength(6);
    expect(streamB.statusEvents()).toHaveLength(6);
  });

  test('snapshot and replay hold only own jobs', async () => {
    await start();
    server.store.createJob(CLIENT_B);
    const own = server.store.createJob(CLIENT_A);

    const stream = await openStream(CLIENT_A, { 'Last-Event-ID': '0' });
    const events = await stream.waitForStatusEvents(1, 'snapshot of client A');

    expect(events.map((event) => event.job.id)).toEqual([own.id]);
  });
});

describe('stream limits', () => {
  test('over per-client limit gets 429', async () => {
    await start({ limits: { maxStreamsPerClient: 2 } });
    const first = await openStream();
    await openStream();

    const rejected = await openStream();
    expect(rejected.status).toBe(429);
    expect(rejected.headers['retry-after']).toBe('5');
    await rejected.waitForEnd();
    expect((JSON.parse(rejected.text) as { error: string }).error).toContain('maximum');

    const otherClient = await openStream(CLIENT_B);
    expect(otherClient.status).toBe(200);

    first.close();
    await waitFor(
      'the server to release the closed stream',
      () => server.stats().openStreams === 2,
    );
    const accepted = await openStream();
    expect(accepted.status).toBe(200);
  });

  test('HEAD never opens a stream', async () => {
    await start();
    const response = await fetch(`${url}/status`, {
      method: 'HEAD',
      headers: { Accept: 'text/event-stream', 'X-Client-Id': CLIENT_A },
    });

    expect(response.status).toBe(400);
    expect(server.stats().openStreams).toBe(0);
  });
});

describe('EventSource client', () => {
  test('receives open then status events', async () => {
    await start();
    const source = new EventSource(`${url}/status?uuid=${CLIENT_A}`);
    const statuses: string[] = [];
    let openedBeforeEvents = false;
    try {
      const opened = new Promise<void>((resolve) => {
        source.addEventListener('open', () => {
          openedBeforeEvents = statuses.length === 0;
          resolve();
        });
      });
      source.addEventListener('status', (event) => {
        statuses.push((JSON.parse(event.data as string) as Job).status);
      });
      await withTimeout(opened, 'EventSource open event');

      server.store.createJob(CLIENT_A, { durationMs: 20 });
      await waitFor('completed event on the EventSource', () => statuses.includes('completed'));

      expect(openedBeforeEvents).toBe(true);
      expect(statuses).toEqual([
        'pending',
        'processing',
        'processing',
        'processing',
        'processing',
        'completed',
      ]);
    } finally {
      source.close();
    }
  });

  test('reconnect after heartbeat resumes from status id', async () => {
    await start({ heartbeatMs: 30, retryMs: 20 });
    const old = server.store.createJob(CLIENT_A);
    const source = new EventSource(`${url}/status?uuid=${CLIENT_A}`);
    const statusJobIds: string[] = [];
    let heartbeats = 0;
    let opens = 0;
    source.addEventListener('open', () => {
      opens += 1;
    });
    source.addEventListener('status', (event) => {
      statusJobIds.push((JSON.parse(event.data as string) as Job).id);
    });
    source.addEventListener('heartbeat', (event) => {
      expect(Number.isNaN(Date.parse(event.data as string))).toBe(false);
      heartbeats += 1;
    });
    try {
      await waitFor('snapshot event', () => statusJobIds.length === 1);
      await waitFor('a heartbeat event', () => heartbeats >= 1);

      server.faults.dropStreams();
      await waitFor('the reconnect', () => opens === 2 && server.stats().openStreams === 1);
      const next = server.store.createJob(CLIENT_A);
      await waitFor('the new job event', () => statusJobIds.length === 2);

      // A reconnect without Last-Event-ID would have brought the snapshot with the old job first.
      expect(statusJobIds).toEqual([old.id, next.id]);
    } finally {
      source.close();
    }
  });

  test('sends X-Client-Id through custom fetch', async () => {
    await start();
    const job = server.store.createJob(CLIENT_B);
    const source = new EventSource(`${url}/status`, {
      fetch: (input, init) =>
        fetch(input, { ...init, headers: { ...init.headers, 'X-Client-Id': CLIENT_B } }),
    });
    try {
      const received = new Promise<{ id: string; lastEventId: string }>((resolve) => {
        source.addEventListener('status', (event) => {
          resolve({
            id: (JSON.parse(event.data as string) as Job).id,
            lastEventId: event.lastEventId,
          });
        });
      });

      const event = await withTimeout(received, 'snapshot event with header auth');
      expect(event.id).toBe(job.id);
      expect(event.lastEventId).toMatch(/^\d+$/);
    } finally {
      source.close();
    }
  });
});
