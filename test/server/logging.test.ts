import pino from 'pino';
import request from 'supertest';
import type { MockServer } from '../../mock-server';
import { waitFor } from '../helpers/waitFor';
import { RawStream } from './support/rawStream';
import { startServer } from './support/server';

/** A client id long and distinct enough that any full copy in the logs is easy to find. */
const SECRET_CLIENT = 'secret-client-id-0123456789abcdef';

interface LogLine {
  level: number;
  msg: string;
  requestId?: string;
  [field: string]: unknown;
}

let server: MockServer;
let url: string;
let lines: LogLine[];

beforeEach(async () => {
  lines = [];
  const logger = pino(
    { level: 'debug' },
    {
      write(line: string) {
        lines.push(JSON.parse(line) as LogLine);
      },
    },
  );
  ({ server, url } = await startServer({ logger, jobTimeMs: 60_000 }));
});

afterEach(async () => {
  await server.close();
});

function linesWith(message: string): LogLine[] {
  return lines.filter((line) => line.msg === message);
}

describe('server logs', () => {
  test('request lines carry the request id', async () => {
    const response = await request(server.app).post('/create').set('X-Client-Id', SECRET_CLIENT);
    const requestId = response.headers['x-request-id'] as string;

    const started = linesWith('request started').find((line) => line.requestId === requestId);
    const finished = linesWith('request finished').find((line) => line.requestId === requestId);
    const created = linesWith('job created').find((line) => line.requestId === requestId);
    expect(started).toMatchObject({ method: 'POST', url: '/create' });
    expect(finished).toMatchObject({ method: 'POST', status: 201 });
    expect(typeof finished?.durationMs).toBe('number');
    expect(created).toMatchObject({ jobId: (response.body as { id: string }).id });
  });

  test('client id is never logged whole', async () => {
    await request(server.app).post('/create').set('X-Client-Id', SECRET_CLIENT);
    const joined = await request(server.app)
      .get('/status?ids=a')
      .set('X-Client-Id', `${SECRET_CLIENT}, ${SECRET_CLIENT}`);
    expect(joined.status).toBe(400);
    expect(linesWith('request rejected')).toHaveLength(1);
    const stream = await RawStream.open(`${url}/status?uuid=${SECRET_CLIENT}&lastEventId=7`);
    await stream.waitForStatusEvents(1, 'snapshot');
    stream.close();
    await waitFor('the stream closed line', () => linesWith('stream closed').length === 1);

    const text = lines.map((line) => JSON.stringify(line)).join('\n');
    expect(text).not.toContain(SECRET_CLIENT);
    expect(text).not.toContain(SECRET_CLIENT.slice(0, 7));
    expect(text).toContain('secret…');
    expect(text).toContain('/status?uuid=secret…&lastEventId=7');
  });

  test('stream open and close are logged', async () => {
    server.store.createJob(SECRET_CLIENT);
    const stream = await RawStream.open(`${url}/status`, { 'X-Client-Id': SECRET_CLIENT });
    await stream.waitForStatusEvents(1, 'snapshot');
    server.store.createJob(SECRET_CLIENT);
    await stream.waitForStatusEvents(2, 'pending event of the second job');
    stream.close();
    await waitFor('the stream closed line', () => linesWith('stream closed').length === 1);

    const [opened] = linesWith('stream opened');
    const [closed] = linesWith('stream closed');
    expect(opened).toMatchObject({ client: 'secret…', start: 'snapshot', backlogEvents: 1 });
    expect(opened?.connectionId).toMatch(/^conn-\d+$/);
    expect(closed).toMatchObject({
      connectionId: opened?.connectionId,
      client: 'secret…',
      reason: 'client disconnected',
      eventsSent: 2,
    });
    expect(typeof closed?.durationMs).toBe('number');
  });

  test('faults and injected 5xx are logged', async () => {
    await request(server.app).post('/__mock/faults/error-rate').send({ rate: 1, status: 500 });
    const response = await request(server.app)
      .get('/status?ids=a')
      .set('X-Client-Id', SECRET_CLIENT);
    expect(response.status).toBe(500);
    const requestId = response.headers['x-request-id'] as string;

    expect(linesWith('fault injected: error rate')).toEqual([
      expect.objectContaining({ fault: 'error-rate', rate: 1, status: 500 }),
    ]);
    const injected = linesWith('fault injected: error response');
    expect(injected).toEqual([expect.objectContaining({ requestId, status: 500 })]);
    const serverError = linesWith('request failed with a server error');
    expect(serverError).toEqual([expect.objectContaining({ requestId, status: 500, level: 50 })]);
  });

  test('unexpected error is a JSON 500 and logged', async () => {
    server.store.createJob = () => {
      throw new Error('store failure for the test');
    };

    const response = await request(server.app).post('/create').set('X-Client-Id', SECRET_CLIENT);

    const requestId = response.headers['x-request-id'] as string;
    expect(response.status).toBe(500);
    expect(response.body).toEqual({ error: `Internal server error (request id ${requestId})` });
    const [logged] = linesWith('unhandled error');
    expect(logged).toMatchObject({ requestId, level: 50, method: 'POST', path: '/create' });
    expect((logged?.err as { message: string }).message).toBe('store failure for the test');
  });
});
