import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { createMockServer, type Job, type MockServer } from '../../mock-server';
import { CLIENT_A, CLIENT_B } from './support/server';

let server: MockServer;

beforeEach(() => {
  server = createMockServer({ jobTimeMs: 60_000 });
});

afterEach(async () => {
  await server.close();
});

/** Asserts the JSON error shape that every 4xx and 5xx shares, and returns the message. */
function expectJsonError(response: request.Response, status: number): string {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  const body = response.body as { error?: unknown };
  expect(typeof body.error).toBe('string');
  expect(response.text).not.toMatch(/\bat .+\(.+:\d+:\d+\)/); // no stack frame
  expect(response.text).not.toContain('/work/');
  expect(response.text).not.toContain('node_modules');
  return body.error as string;
}

async function createJob(clientId = CLIENT_A, body?: object): Promise<Job> {
  const call = request(server.app).post('/create').set('X-Client-Id', clientId);
  const response = body === undefined ? await call : await call.send(body);
  expect(response.status).toBe(201);
  return response.body as Job;
}

describe('POST /create', () => {
  test('creates pending job with 201', async () => {
    const response = await request(server.app).post('/create').set('X-Client-Id', CLIENT_A);

    expect(response.status).toBe(201);
    const job = response.body as Job;
    expect(job.status).toBe('pending');
    expect(job.progress).toBe(0);
    expect(job.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(job.createdAt).toBe(job.updatedAt);
    expect(new Date(job.createdAt).toISOString()).toBe(job.createdAt);
    expect(job).not.toHaveProperty('error');
    expect(response.headers.location).toBe(`/status/${job.id}`);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('accepts JSON body with both fields', async () => {
    const job = await createJob(CLIENT_A, { durationMs: 3_600_000, outcome: 'failed' });

    expect(job.status).toBe('pending');
    expect(server.store.get(CLIENT_A, job.id)).toEqual(job);
  });

  test('accepts empty JSON object and no content type', async () => {
    const empty = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/json')
      .send('{}');
    expect(empty.status).toBe(201);

    const untyped = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .unset('Content-Type')
      .send(Buffer.from('{"durationMs": 500}'));
    expect(untyped.status).toBe(201);

    const vendorType = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/vnd.test+json')
      .send('{"outcome": "completed"}');
    expect(vendorType.status).toBe(201);
  });

  test.each([
    ['a string durationMs', { durationMs: '100' }, 'durationMs'],
    ['a fractional durationMs', { durationMs: 1.5 }, 'durationMs'],
    ['durationMs 0', { durationMs: 0 }, 'durationMs'],
    ['durationMs above one hour', { durationMs: 3_600_001 }, 'durationMs'],
    ['a null durationMs', { durationMs: null }, 'durationMs'],
    ['an unknown outcome', { outcome: 'crashed' }, 'outcome'],
    ['an unknown field', { durationMs: 10, colour: 'red' }, '"colour"'],
    ['a __proto__ field', JSON.parse('{"__proto__": {"x": 1}}') as object, '"__proto__"'],
  ])('rejects body with %s', async (_case, body, named) => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .send(body);

    const message = expectJsonError(response, 400);
    expect(message).toContain(named);
    expect(server.store.size).toBe(0);
  });

  test.each([
    ['an array', '[1, 2]', 'an array'],
    ['null', 'null', 'null'],
    ['a number', '42', 'a number'],
    ['a string', '"text"', 'a string'],
  ])('rejects non-object JSON body: %s', async (_case, raw, kind) => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/json')
      .send(raw);

    const message = expectJsonError(response, 400);
    expect(message).toContain(`got ${kind}`);
  });

  test('rejects malformed JSON with 400', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/json')
      .send('{"durationMs": ');

    const message = expectJsonError(response, 400);
    expect(message).toMatch(/^Malformed JSON body/);
  });

  test('rejects form body with 415', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .type('form')
      .send('durationMs=100');

    const message = expectJsonError(response, 415);
    expect(message).toContain('application/x-www-form-urlencoded');
  });

  test('rejects unsupported charset with 415', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/json; charset=latin1')
      .send('{}');

    const message = expectJsonError(response, 415);
    expect(message).toContain('"latin1"');
  });

  test.each([
    ['gzip', 'gzip', Buffer.from('{"durationMs": 100}')],
    ['gzip cut short', 'gzip', gzipSync('{"durationMs": 100}').subarray(0, 12)],
    ['deflate', 'deflate', Buffer.from('{}')],
    ['br', 'br', Buffer.from('{}')],
    ['upper-case GZIP', 'GZIP', Buffer.from('{}')],
  ])('rejects invalid %s body with 400', async (_case, encoding, body) => {
    // Without a Content-Type, superagent sends a Buffer as it is instead of as JSON.
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Encoding', encoding)
      .send(body);

    const message = expectJsonError(response, 400);
    expect(message).toContain(`the Content-Encoding header is "${encoding}"`);
    expect(message).toContain(`not valid ${encoding.toLowerCase()} data`);
    expect(message).toContain('without a Content-Encoding header');
    expect(server.store.size).toBe(0);
  });

  test('accepts valid gzip body', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Encoding', 'gzip')
      .send(gzipSync('{"outcome": "failed"}'));

    expect(response.status).toBe(201);
    expect(server.store.size).toBe(1);
  });

  test('rejects body over limit with 413', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .send({ durationMs: 10, padding: 'x'.repeat(1100) });

    const message = expectJsonError(response, 413);
    expect(message).toContain('1024 bytes');
  });

  test('rejects 5 MB body with 413', async () => {
    const response = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .set('Content-Type', 'application/json')
      .send(`{"padding": "${'x'.repeat(5 * 1024 * 1024)}"}`);

    expectJsonError(response, 413);
    expect(server.store.size).toBe(0);
  });

  test('honours configured body limit', async () => {
    const small = createMockServer({ limits: { bodyBytes: 16 } });
    try {
      const response = await request(small.app)
        .post('/create')
        .set('X-Client-Id', CLIENT_A)
        .send({ durationMs: 1000, outcome: 'failed' });
      expectJsonError(response, 413);
    } finally {
      await small.close();
    }
  });
});

describe('client id', () => {
  test('missing id is rejected with 401', async () => {
    const response = await request(server.app).post('/create');

    const message = expectJsonError(response, 401);
    expect(message).toBe(
      'Missing client id: send the X-Client-Id header or the uuid query parameter',
    );
  });

  test.each([
    ['empty', ''],
    ['a space', 'has space'],
    ['a slash', 'a/b'],
    ['129 characters', 'c'.repeat(129)],
    ['non-ASCII letters', 'clïent'],
  ])('header with %s is rejected with 400', async (_case, clientId) => {
    const response = await request(server.app)
      .get('/status/abc')
      .set('X-Client-Id', Buffer.from(clientId, 'utf8').toString('latin1'));

    const message = expectJsonError(response, 400);
    expect(message).toContain('Invalid client id');
    expect(message).toContain('X-Client-Id header');
  });

  test('128-character id with every allowed symbol is accepted', async () => {
    const clientId = `Az09._~-${'x'.repeat(120)}`;
    expect(clientId).toHaveLength(128);

    const job = await createJob(clientId);
    const response = await request(server.app)
      .get(`/status/${job.id}`)
      .set('X-Client-Id', clientId);
    expect(response.status).toBe(200);
  });

  test('uuid query parameter works like the header', async () => {
    const job = await createJob(CLIENT_A);

    const response = await request(server.app).get(`/status/${job.id}?uuid=${CLIENT_A}`);
    expect(response.status).toBe(200);
    expect((response.body as Job).id).toBe(job.id);
  });

  test('header wins over uuid query parameter', async () => {
    const job = await createJob(CLIENT_A);

    const response = await request(server.app)
      .get(`/status/${job.id}?uuid=${CLIENT_B}`)
      .set('X-Client-Id', CLIENT_A);
    expect(response.status).toBe(200);

    const invalidQuery = await request(server.app)
      .get(`/status/${job.id}?uuid=bad%20id`)
      .set('X-Client-Id', CLIENT_A);
    expect(invalidQuery.status).toBe(200);
  });

  test('invalid or repeated uuid query is rejected with 400', async () => {
    const invalid = await request(server.app).get('/status/abc?uuid=bad%20id');
    expect(expectJsonError(invalid, 400)).toContain('uuid query parameter');

    const repeated = await request(server.app).get(`/status/abc?uuid=${CLIENT_A}&uuid=${CLIENT_B}`);
    expect(expectJsonError(repeated, 400)).toContain('send it once');
  });
});

describe('GET /status/:id', () => {
  test('returns own job with 200', async () => {
    const job = await createJob();

    const response = await request(server.app)
      .get(`/status/${job.id}`)
      .set('X-Client-Id', CLIENT_A);
    expect(response.status).toBe(200);
    expect(response.body).toEqual(job);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.headers.etag).toBeUndefined();
  });

  test('HEAD returns headers without body', async () => {
    const job = await createJob();

    const response = await request(server.app)
      .head(`/status/${job.id}`)
      .set('X-Client-Id', CLIENT_A);
    expect(response.status).toBe(200);
    expect(response.text).toBeUndefined();
  });

  test('unknown id is 404 naming the id', async () => {
    const response = await request(server.app)
      .get('/status/no-such-job')
      .set('X-Client-Id', CLIENT_A);

    expect(expectJsonError(response, 404)).toContain('"no-such-job"');
  });

  test('foreign job is 404 like an unknown id', async () => {
    const job = await createJob(CLIENT_A);

    const foreign = await request(server.app).get(`/status/${job.id}`).set('X-Client-Id', CLIENT_B);
    const unknown = await request(server.app)
      .get('/status/00000000-0000-4000-8000-000000000000')
      .set('X-Client-Id', CLIENT_B);

    expectJsonError(foreign, 404);
    expectJsonError(unknown, 404);
    const foreignMessage = (foreign.body as { error: string }).error.replace(job.id, 'ID');
    const unknownMessage = (unknown.body as { error: string }).error.replace(
      '00000000-0000-4000-8000-000000000000',
      'ID',
    );
    expect(foreignMessage).toBe(unknownMessage);
  });

  test.each([
    ['a dot', 'job.1'],
    ['a tilde', 'job~1'],
    ['a space', 'job%201'],
    ['a quote', 'job%221'],
    ['65 characters', 'j'.repeat(65)],
    ['1000 characters', 'j'.repeat(1000)],
  ])('malformed id with %s is 400', async (_case, id) => {
    const response = await request(server.app).get(`/status/${id}`).set('X-Client-Id', CLIENT_A);

    const message = expectJsonError(response, 400);
    expect(message).toContain('Invalid job id');
    expect(message).toContain('1 to 64 characters');
    expect(message.length).toBeLessThan(300);
  });

  test('64-character id is well-formed', async () => {
    const response = await request(server.app)
      .get(`/status/${'j'.repeat(64)}`)
      .set('X-Client-Id', CLIENT_A);

    expectJsonError(response, 404);
  });

  test.each([
    ['a lone percent sign', '/status/%', '"%"'],
    ['a cut UTF-8 sequence', '/status/%E0%A4%A', '"%E0%A4%A"'],
    ['a trailing slash', '/status/%/', '"%"'],
    ['an upper-case path', '/STATUS/%zz', '"%zz"'],
  ])('invalid percent-encoding with %s is 400', async (_case, path, quoted) => {
    const response = await request(server.app).get(path).set('X-Client-Id', CLIENT_A);

    const message = expectJsonError(response, 400);
    expect(message).toContain(`Invalid job id ${quoted}`);
    expect(message).toContain('1 to 64 characters of A-Z a-z 0-9 _ -');
    expect(message).not.toContain('Failed to decode');
  });
});

describe('GET /status?ids=', () => {
  test('returns jobs and missing ids', async () => {
    const first = await createJob(CLIENT_A);
    const second = await createJob(CLIENT_A);

    const response = await request(server.app)
      .get(`/status?ids=${second.id},unknown-id,${first.id}`)
      .set('X-Client-Id', CLIENT_A);

    expect(response.status).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.body).toEqual({ jobs: [second, first], missing: ['unknown-id'] });
  });

  test('deduplicates ids in request order', async () => {
    const job = await createJob(CLIENT_A);

    const response = await request(server.app)
      .get(`/status?ids=x,${job.id},x,${job.id}`)
      .set('X-Client-Id', CLIENT_A);

    expect(response.body).toEqual({ jobs: [job], missing: ['x'] });
  });

  test('accepts repeated ids parameter', async () => {
    const job = await createJob(CLIENT_A);

    const response = await request(server.app)
      .get(`/status?ids=${job.id}&ids=y,z`)
      .set('X-Client-Id', CLIENT_A);

    expect(response.body).toEqual({ jobs: [job], missing: ['y', 'z'] });
  });

  test('reports foreign jobs as missing', async () => {
    const own = await createJob(CLIENT_A);
    const foreign = await createJob(CLIENT_B);

    const response = await request(server.app)
      .get(`/status?ids=${own.id},${foreign.id}`)
      .set('X-Client-Id', CLIENT_A);

    expect(response.body).toEqual({ jobs: [own], missing: [foreign.id] });
  });

  test('accepts exactly 100 ids', async () => {
    const ids = Array.from({ length: 100 }, (_, index) => `id-${index}`);

    const response = await request(server.app)
      .get(`/status?ids=${ids.join(',')}`)
      .set('X-Client-Id', CLIENT_A);

    expect(response.status).toBe(200);
    expect((response.body as { missing: string[] }).missing).toEqual(ids);
  });

  test('rejects 101 ids with 400', async () => {
    const ids = Array.from({ length: 101 }, (_, index) => `id-${index}`);

    const response = await request(server.app)
      .get(`/status?ids=${ids.join(',')}`)
      .set('X-Client-Id', CLIENT_A);

    const message = expectJsonError(response, 400);
    expect(message).toContain('got 101');
    expect(message).toContain('maximum is 100');
  });

  test.each([
    ['empty ids', '/status?ids=', 'Missing ids'],
    ['an empty id between commas', '/status?ids=a,,b', 'Invalid job id ""'],
    ['a trailing comma', '/status?ids=a,', 'Invalid job id ""'],
    ['a malformed id', '/status?ids=a,b%2Fc', 'Invalid job id "b/c"'],
    ['a 65-character id', `/status?ids=${'k'.repeat(65)}`, 'Invalid job id'],
  ])('rejects %s with 400', async (_case, path, expected) => {
    const response = await request(server.app).get(path).set('X-Client-Id', CLIENT_A);

    expect(expectJsonError(response, 400)).toContain(expected);
  });

  test('without ids or Accept is 400 naming both fixes', async () => {
    const response = await request(server.app).get('/status').set('X-Client-Id', CLIENT_A);

    const message = expectJsonError(response, 400);
    expect(message).toContain('?ids=');
    expect(message).toContain('Accept: text/event-stream');
  });

  test('client id is checked before ids', async () => {
    const response = await request(server.app).get('/status?ids=a');

    expectJsonError(response, 401);
  });
});

describe('routing errors', () => {
  test('unknown route is 404 JSON', async () => {
    const response = await request(server.app).get('/jobs/1');

    const message = expectJsonError(response, 404);
    expect(message).toContain('"/jobs/1"');
    expect(message).toContain('POST /create, GET /status/:id and GET /status');
  });

  test('405 names the full path', async () => {
    const response = await request(server.app).put('/status/abc').set('X-Client-Id', CLIENT_A);

    const message = expectJsonError(response, 405);
    expect(message).toBe('Method PUT is not allowed on /status/abc: use GET or HEAD');
  });

  test.each([
    ['PUT', '/create', 'POST, OPTIONS'],
    ['GET', '/create', 'POST, OPTIONS'],
    ['DELETE', '/status', 'GET, HEAD, OPTIONS'],
    ['POST', '/status/abc', 'GET, HEAD, OPTIONS'],
    ['PATCH', '/status/abc', 'GET, HEAD, OPTIONS'],
  ])('%s %s is 405 with Allow', async (method, path, allow) => {
    const agent = request(server.app);
    const call = agent[method.toLowerCase() as 'put' | 'get' | 'delete' | 'post' | 'patch'];
    const response = await call.call(agent, path).set('X-Client-Id', CLIENT_A);

    expectJsonError(response, 405);
    expect(response.headers.allow).toBe(allow);
  });

  test('OPTIONS without CORS is 204 with Allow', async () => {
    const response = await request(server.app).options('/create');

    expect(response.status).toBe(204);
    expect(response.headers.allow).toBe('POST, OPTIONS');
  });

  test('incoming X-Request-Id is reused when safe', async () => {
    const reused = await request(server.app).get('/nowhere').set('X-Request-Id', 'trace-42');
    expect(reused.headers['x-request-id']).toBe('trace-42');

    const replaced = await request(server.app).get('/nowhere').set('X-Request-Id', 'bad id!');
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('no X-Powered-By header', async () => {
    const response = await request(server.app).get('/nowhere');

    expect(response.headers['x-powered-by']).toBeUndefined();
  });

  test('requests after close get 503', async () => {
    await server.close();

    const response = await request(server.app).post('/create').set('X-Client-Id', CLIENT_A);
    expectJsonError(response, 503);
  });
});

describe('CORS', () => {
  test('default sends no CORS headers', async () => {
    const response = await request(server.app)
      .get('/status?ids=a')
      .set('Origin', 'http://evil.example')
      .set('X-Client-Id', CLIENT_A);

    expect(response.status).toBe(200);
    expect(response.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('allowed origin gets headers and preflight', async () => {
    const cors = createMockServer({ corsOrigins: ['http://localhost:5173'] });
    try {
      const preflight = await request(cors.app)
        .options('/status')
        .set('Origin', 'http://localhost:5173')
        .set('Access-Control-Request-Method', 'GET')
        .set('Access-Control-Request-Headers', 'x-client-id, last-event-id');

      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      const allowedHeaders = String(
        preflight.headers['access-control-allow-headers'],
      ).toLowerCase();
      expect(allowedHeaders).toContain('x-client-id');
      expect(allowedHeaders).toContain('last-event-id');

      const response = await request(cors.app)
        .get('/status?ids=a')
        .set('Origin', 'http://localhost:5173')
        .set('X-Client-Id', CLIENT_A);
      expect(response.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      expect(response.headers['access-control-expose-headers']).toBe(
        'Retry-After,X-Request-Id,Location',
      );
      expect(response.headers['access-control-allow-credentials']).toBeUndefined();
    } finally {
      await cors.close();
    }
  });

  test('other origin gets no allow-origin header', async () => {
    const cors = createMockServer({ corsOrigins: ['http://localhost:5173'] });
    try {
      const response = await request(cors.app)
        .get('/status?ids=a')
        .set('Origin', 'http://localhost:5174')
        .set('X-Client-Id', CLIENT_A);

      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await cors.close();
    }
  });

  test('wildcard allows every origin', async () => {
    const cors = createMockServer({ corsOrigins: '*' });
    try {
      const response = await request(cors.app)
        .get('/status?ids=a')
        .set('Origin', 'http://anything.example')
        .set('X-Client-Id', CLIENT_A);

      expect(response.headers['access-control-allow-origin']).toBe('*');
    } finally {
      await cors.close();
    }
  });
});

describe('static files', () => {
  let directory: string;

  beforeAll(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'mock-static-'));
    writeFileSync(path.join(directory, 'index.html'), '<h1>demo</h1>');
    writeFileSync(path.join(directory, 'create'), 'shadowed');
  });

  afterAll(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  test('staticDir is served at root', async () => {
    const withPage = createMockServer({ staticDir: directory });
    try {
      const page = await request(withPage.app).get('/');
      expect(page.status).toBe(200);
      expect(page.text).toBe('<h1>demo</h1>');

      const missing = await request(withPage.app).get('/missing.js');
      expectJsonError(missing, 404);
      expect(withPage.stats().requests.other).toBe(2);
    } finally {
      await withPage.close();
    }
  });

  test('API routes win over static files', async () => {
    const withPage = createMockServer({ staticDir: directory });
    try {
      const response = await request(withPage.app).get('/create');
      expectJsonError(response, 405);
    } finally {
      await withPage.close();
    }
  });
});

describe('createMockServer options', () => {
  test.each([
    [{ jobTimeMs: 0 }, 'jobTimeMs'],
    [{ heartbeatMs: 1.5 }, 'heartbeatMs'],
    [{ retryMs: -1 }, 'retryMs'],
    [{ finishedTtlMs: Number.NaN }, 'finishedTtlMs'],
    [{ limits: { maxBatchIds: 0 } }, 'limits.maxBatchIds'],
    [{ limits: { maxStreamsPerClient: 0 } }, 'limits.maxStreamsPerClient'],
    [{ corsOrigins: ['http://localhost:5173/app'] }, 'corsOrigins'],
    [{ corsOrigins: 'http://localhost:5173' as unknown as string[] }, 'corsOrigins'],
  ])('rejects %j naming the option', (options, name) => {
    expect(() => createMockServer(options)).toThrow(name);
  });

  test('reads JOB_TIME and rejects invalid value', async () => {
    const saved = process.env.JOB_TIME;
    try {
      process.env.JOB_TIME = '250';
      const fromEnv = createMockServer();
      const job = fromEnv.store.createJob(CLIENT_A);
      await fromEnv.close();
      expect(job.status).toBe('pending');

      process.env.JOB_TIME = 'soon';
      expect(() => createMockServer()).toThrow('Invalid JOB_TIME environment variable "soon"');
    } finally {
      if (saved === undefined) {
        delete process.env.JOB_TIME;
      } else {
        process.env.JOB_TIME = saved;
      }
    }
  });
});
