import { EventSource } from 'eventsource';
import request from 'supertest';
import {
  createMockServer,
  type Job,
  type MockServer,
  type MockServerOptions,
} from '../../mock-server';
import { waitFor } from '../helpers/waitFor';
import { RawStream } from './support/rawStream';
import { CLIENT_A, CLIENT_B, startServer } from './support/server';

let server: MockServer;
let url: string;
const streams: RawStream[] = [];

async function start(options: MockServerOptions = {}): Promise<void> {
  ({ server, url } = await startServer({ jobTimeMs: 60_000, ...options }));
}

async function openStream(clientId: string = CLIENT_A): Promise<RawStream> {
  const stream = await RawStream.open(`${url}/status`, { 'X-Client-Id': clientId });
  streams.push(stream);
  return stream;
}

async function postJson(path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The routes that a 404 under /__mock lists. */
const MOCK_ROUTES = [
  'POST /__mock/faults/drop-streams',
  'POST /__mock/faults/refuse-streams',
  'POST /__mock/faults/latency',
  'POST /__mock/faults/error-rate',
  'DELETE /__mock/faults',
  'GET /__mock/stats',
];

afterEach(async () => {
  for (const stream of streams.splice(0)) {
    stream.close();
  }
  await server.close();
});

describe('drop-streams fault', () => {
  test('ends every open stream', async () => {
    await start();
    const opened = [
      await openStream(CLIENT_A),
      await openStream(CLIENT_A),
      await openStream(CLIENT_B),
    ];
    await waitFor('three open streams', () => server.stats().openStreams === 3);

    const response = await postJson('/__mock/faults/drop-streams', {});

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ dropped: 3 });
    for (const stream of opened) {
      await stream.waitForEnd();
    }
    expect(server.stats().openStreams).toBe(0);
    expect(server.stats().timers).toBe(0);
  });

  test('EventSource resumes without gaps after drop', async () => {
    await start({ retryMs: 20 });
    const source = new EventSource(`${url}/status?uuid=${CLIENT_A}`);
    const received: { id: string; job: Job }[] = [];
    let opens = 0;
    source.addEventListener('open', () => {
      opens += 1;
    });
    source.addEventListener('status', (event) => {
      received.push({ id: event.lastEventId, job: JSON.parse(event.data as string) as Job });
    });
    try {
      await waitFor('first open', () => opens === 1);
      server.store.createJob(CLIENT_A, { durationMs: 300 });
      await waitFor('two events before the drop', () => received.length >= 2);

      expect(server.faults.dropStreams()).toBe(1);
      await waitFor('reconnect after the drop', () => opens === 2);
      await waitFor('completed event', () =>
        received.some((entry) => entry.job.status === 'completed'),
      );

      expect(received.map((entry) => entry.job.progress)).toEqual([0, 0, 25, 50, 75, 100]);
      const ids = received.map((entry) => Number(entry.id));
      expect(ids).toEqual(ids.map((_, index) => (ids[0] as number) + index));
    } finally {
      source.close();
    }
  });
});

describe('refuse-streams fault', () => {
  test('refuses with 503 then accepts again', async () => {
    await start();
    const existing = await openStream();
    await existing.waitForText('connected');

    const response = await postJson('/__mock/faults/refuse-streams', { durationMs: 300 });
    expect(response.status).toBe(200);
    const state = (await response.json()) as { faults: { refuseStreamsMs: number } };
    expect(state.faults.refuseStreamsMs).toBeGreaterThan(0);

    const refused = await openStream();
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    await refused.waitForEnd();
    expect((JSON.parse(refused.text) as { error: string }).error).toContain('refuse-streams');
    expect(existing.ended).toBe(false);

    const polled = await request(server.app).get('/status?ids=a').set('X-Client-Id', CLIENT_A);
    expect(polled.status).toBe(200);

    const accepted = await waitFor('a stream to be accepted again', async () => {
      const attempt = await openStream();
      return attempt.status === 200 ? attempt : undefined;
    });
    await accepted.waitForText('connected');
  });

  test('zero duration stops refusing', async () => {
    await start();
    server.faults.refuseStreams(60_000);
    expect((await openStream()).status).toBe(503);
    expect(server.stats().faults.refuseStreamsMs).toBeGreaterThan(59_000);

    server.faults.refuseStreams(0);
    expect((await openStream()).status).toBe(200);
  });
});

describe('latency fault', () => {
  test('delays API routes but not /__mock', async () => {
    await start();
    const set = await postJson('/__mock/faults/latency', { ms: 400 });
    expect(set.status).toBe(200);

    let startedAt = Date.now();
    const delayed = await fetch(`${url}/status?ids=a`, { headers: { 'X-Client-Id': CLIENT_A } });
    expect(delayed.status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(395);

    startedAt = Date.now();
    const stats = await fetch(`${url}/__mock/stats`);
    expect(stats.status).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(395);

    startedAt = Date.now();
    const stream = await openStream();
    expect(stream.status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(395);

    await postJson('/__mock/faults/latency', { ms: 0 });
    startedAt = Date.now();
    await fetch(`${url}/status?ids=a`, { headers: { 'X-Client-Id': CLIENT_A } });
    expect(Date.now() - startedAt).toBeLessThan(395);
  });

  test('aborted delayed request releases its timer', async () => {
    await start();
    server.faults.setLatency(60_000);
    const controller = new AbortController();

    const pending = fetch(`${url}/status?ids=a`, {
      headers: { 'X-Client-Id': CLIENT_A },
      signal: controller.signal,
    }).catch((error: unknown) => (error as Error).name);
    await waitFor('the delayed request to arrive', () => server.stats().timers === 1);
    controller.abort();

    await waitFor('the latency timer to be cleared', () => server.stats().timers === 0);
    expect(await pending).toBe('AbortError');
  });
});

describe('error-rate fault', () => {
  test('rate 1 fails every API route', async () => {
    await start();
    const set = await postJson('/__mock/faults/error-rate', { rate: 1, status: 502 });
    expect(set.status).toBe(200);

    const responses = [
      await request(server.app).post('/create').set('X-Client-Id', CLIENT_A),
      await request(server.app).get('/status/abc').set('X-Client-Id', CLIENT_A),
      await request(server.app).get('/status?ids=abc').set('X-Client-Id', CLIENT_A),
    ];
    for (const response of responses) {
      expect(response.status).toBe(502);
      expect(response.headers['retry-after']).toBe('1');
      expect(typeof (response.body as { error: unknown }).error).toBe('string');
    }
    const stream = await openStream();
    expect(stream.status).toBe(502);
    expect(stream.headers['retry-after']).toBe('1');

    expect(server.stats().jobs).toBe(0);
    expect((await fetch(`${url}/__mock/stats`)).status).toBe(200);
  });

  test('default status is 503', async () => {
    await start();
    server.faults.setErrorRate(1);

    const response = await request(server.app).get('/status/abc').set('X-Client-Id', CLIENT_A);
    expect(response.status).toBe(503);
  });

  test('rate 0.5 fails about half', async () => {
    await start();
    server.faults.setErrorRate(0.5);

    let failures = 0;
    for (let index = 0; index < 400; index += 1) {
      const response = await fetch(`${url}/status?ids=a`, { headers: { 'X-Client-Id': CLIENT_A } });
      await response.arrayBuffer();
      if (response.status === 503) {
        failures += 1;
      }
    }

    // With 400 requests the standard deviation is 10, so 100..300 fails once in about 10^20 runs.
    expect(failures).toBeGreaterThan(100);
    expect(failures).toBeLessThan(300);
  });

  test('DELETE /__mock/faults clears every fault', async () => {
    await start();
    server.faults.setErrorRate(1, 500);
    server.faults.setLatency(50);
    server.faults.refuseStreams(60_000);

    const response = await fetch(`${url}/__mock/faults`, { method: 'DELETE' });

    expect(await response.json()).toEqual({
      faults: { refuseStreamsMs: 0, latencyMs: 0, errorRate: 0, errorStatus: 503 },
    });
    const status = await request(server.app).get('/status?ids=a').set('X-Client-Id', CLIENT_A);
    expect(status.status).toBe(200);
    expect((await openStream()).status).toBe(200);
  });
});

describe('fault routes', () => {
  test.each([
    ['/__mock/faults/latency', { ms: -1 }, 'ms'],
    ['/__mock/faults/latency', { ms: '100' }, 'ms'],
    ['/__mock/faults/latency', { ms: 60_001 }, 'ms'],
    ['/__mock/faults/latency', {}, 'Missing field ms'],
    ['/__mock/faults/latency', { ms: 1, delay: 2 }, '"delay"'],
    ['/__mock/faults/error-rate', { rate: 1.5 }, 'rate'],
    ['/__mock/faults/error-rate', { rate: 0.5, status: 404 }, 'status'],
    ['/__mock/faults/error-rate', { status: 500 }, 'Missing field rate'],
    ['/__mock/faults/refuse-streams', { durationMs: 1.5 }, 'durationMs'],
    ['/__mock/faults/refuse-streams', [], 'an array'],
  ])('POST %s with %j is 400', async (path, body, named) => {
    await start();

    const response = await postJson(path, body);

    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: string };
    expect(error).toContain(named);
    expect(server.stats().faults).toEqual({
      refuseStreamsMs: 0,
      latencyMs: 0,
      errorRate: 0,
      errorStatus: 503,
    });
  });

  test('fault routes need no client id', async () => {
    await start();

    const response = await fetch(`${url}/__mock/faults/drop-streams`, { method: 'POST' });
    expect(response.status).toBe(200);
  });

  test('wrong method on fault route is 405', async () => {
    await start();

    const response = await fetch(`${url}/__mock/faults/latency`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST, OPTIONS');
    const body = (await response.json()) as { error: string };
    expect(body.error).toBe('Method GET is not allowed on /__mock/faults/latency: use POST');
  });

  test('unknown fault route lists mock routes', async () => {
    await start();

    const response = await fetch(`${url}/__mock/faults/slow?ms=5`, { method: 'POST' });
    expect(response.status).toBe(404);
    const { error } = (await response.json()) as { error: string };
    expect(error).toContain('Not found: POST "/__mock/faults/slow"');
    for (const route of MOCK_ROUTES) {
      expect(error).toContain(route);
    }
    expect(error).not.toContain('POST /create');
    expect(server.stats().requests).toEqual({ mock: 1 });
  });

  test.each(MOCK_ROUTES)('listed route %s exists', async (route) => {
    await start();
    const [method, path] = route.split(' ');

    // Routes that need a body respond 400 here, which still shows that they exist.
    const response = await fetch(`${url}${path}`, { method });
    expect(response.status).not.toBe(404);
    expect(response.status).not.toBe(405);
  });

  test('routes are absent when faults are off', async () => {
    await start();
    const plain = createMockServer({ faults: false });
    try {
      const response = await request(plain.app).get('/__mock/stats');
      expect(response.status).toBe(404);
      const { error } = response.body as { error: string };
      expect(error).toContain('The API routes are');
      expect(error).not.toContain('/__mock/faults');
    } finally {
      await plain.close();
    }
  });

  test('methods reject invalid arguments', async () => {
    await start();

    expect(() => server.faults.setLatency(-5)).toThrow(RangeError);
    expect(() => server.faults.setErrorRate(2)).toThrow(RangeError);
    expect(() => server.faults.setErrorRate(0.5, 404)).toThrow(RangeError);
    expect(() => server.faults.refuseStreams(Number.NaN)).toThrow(RangeError);
  });

  test('stats count requests by route', async () => {
    await start();
    await request(server.app).post('/create').set('X-Client-Id', CLIENT_A);
    await request(server.app).get('/status/x').set('X-Client-Id', CLIENT_A);
    await request(server.app).get('/status?ids=x').set('X-Client-Id', CLIENT_A);
    await request(server.app).get('/elsewhere');
    const stream = await openStream();
    await stream.waitForText('connected');

    const response = await fetch(`${url}/__mock/stats`);
    const stats = (await response.json()) as ReturnType<MockServer['stats']>;

    expect(stats.requests).toEqual({
      create: 1,
      status: 1,
      batch: 1,
      other: 1,
      stream: 1,
      mock: 1,
    });
    expect(stats.responses).toMatchObject({ '201': 1, '200': 1, '404': 2 });
    expect(stats.openStreams).toBe(1);
    expect(stats.jobs).toBe(1);
    expect(stats.clients).toBe(1);
  });
});
