import request from 'supertest';
import { createMockServer, type Job, type MockServer } from '../../mock-server';
import { waitFor } from '../helpers/waitFor';
import { CLIENT_A, CLIENT_B } from './support/server';

let server: MockServer;

afterEach(async () => {
  await server.close();
});

/** Collects every `change` event of the store per job id. */
function recordChanges(target: MockServer): Map<string, Job[]> {
  const changes = new Map<string, Job[]>();
  target.store.on('change', (_clientId, job) => {
    const list = changes.get(job.id) ?? [];
    list.push(job);
    changes.set(job.id, list);
  });
  return changes;
}

function isTerminal(job: Job | undefined): boolean {
  return job?.status === 'completed' || job?.status === 'failed';
}

async function waitForTerminal(changes: Map<string, Job[]>, jobId: string): Promise<Job[]> {
  return waitFor(`job ${jobId} to finish`, () => {
    const list = changes.get(jobId);
    return isTerminal(list?.at(-1)) ? list : undefined;
  });
}

describe('job lifecycle', () => {
  test('completed job passes every step in order', async () => {
    server = createMockServer();
    const changes = recordChanges(server);

    const job = server.store.createJob(CLIENT_A, { durationMs: 100 });
    const history = await waitForTerminal(changes, job.id);

    expect(history.map((entry) => entry.status)).toEqual([
      'pending',
      'processing',
      'processing',
      'processing',
      'processing',
      'completed',
    ]);
    expect(history.map((entry) => entry.progress)).toEqual([0, 0, 25, 50, 75, 100]);
    for (const entry of history) {
      expect(entry.id).toBe(job.id);
      expect(entry.createdAt).toBe(job.createdAt);
      expect(entry).not.toHaveProperty('error');
    }
    for (let index = 1; index < history.length; index += 1) {
      const previous = history[index - 1] as Job;
      const current = history[index] as Job;
      expect(Date.parse(current.updatedAt)).toBeGreaterThanOrEqual(Date.parse(previous.updatedAt));
    }
  });

  test('run time follows durationMs', async () => {
    server = createMockServer();
    const changes = recordChanges(server);

    const startedAt = Date.now();
    const job = server.store.createJob(CLIENT_A, { durationMs: 250 });
    await waitForTerminal(changes, job.id);
    const elapsedMs = Date.now() - startedAt;

    expect(elapsedMs).toBeGreaterThanOrEqual(245);
    expect(elapsedMs).toBeLessThan(2000);
  });

  test('failed job keeps progress and has error', async () => {
    server = createMockServer();
    const changes = recordChanges(server);

    const job = server.store.createJob(CLIENT_A, { durationMs: 20, outcome: 'failed' });
    const history = await waitForTerminal(changes, job.id);
    const last = history.at(-1) as Job;

    expect(last.status).toBe('failed');
    expect(last.progress).toBe(75);
    expect(typeof last.error).toBe('string');
    expect(last.error).toContain('failed');
    expect(history.slice(0, -1).every((entry) => entry.error === undefined)).toBe(true);
  });

  test('one-millisecond job finishes', async () => {
    server = createMockServer();
    const changes = recordChanges(server);

    const job = server.store.createJob(CLIENT_A, { durationMs: 1 });
    const history = await waitForTerminal(changes, job.id);

    expect(history).toHaveLength(6);
  });

  test('jobTimeMs is the default run time', async () => {
    server = createMockServer({ jobTimeMs: 30 });
    const changes = recordChanges(server);

    const job = server.store.createJob(CLIENT_A);
    const history = await waitForTerminal(changes, job.id);

    expect(history.at(-1)?.status).toBe('completed');
  });

  test('finished job is evicted after TTL', async () => {
    server = createMockServer({ finishedTtlMs: 50 });
    const changes = recordChanges(server);
    const evicted: string[] = [];
    server.store.on('evict', (_clientId, jobId) => evicted.push(jobId));

    const job = server.store.createJob(CLIENT_A, { durationMs: 10 });
    await waitForTerminal(changes, job.id);
    expect(server.store.get(CLIENT_A, job.id)?.status).toBe('completed');

    await waitFor('eviction of the finished job', () => evicted.includes(job.id));
    expect(server.store.get(CLIENT_A, job.id)).toBeUndefined();
    expect(server.store.list(CLIENT_A)).toEqual([]);
    expect(server.stats().jobs).toBe(0);
    expect(server.stats().timers).toBe(0);
    expect(changes.get(job.id)).toHaveLength(6);
  });

  test('status endpoint follows the run', async () => {
    server = createMockServer();
    const created = await request(server.app)
      .post('/create')
      .set('X-Client-Id', CLIENT_A)
      .send({ durationMs: 150 });
    const id = (created.body as Job).id;

    const seen = new Set<string>();
    const final = await waitFor('job to complete over HTTP', async () => {
      const response = await request(server.app).get(`/status/${id}`).set('X-Client-Id', CLIENT_A);
      const job = response.body as Job;
      seen.add(job.status);
      return job.status === 'completed' ? job : undefined;
    });

    expect(final.progress).toBe(100);
    expect(seen.has('completed')).toBe(true);
  });

  test('list returns only own jobs in creation order', () => {
    server = createMockServer({ jobTimeMs: 60_000 });

    const first = server.store.createJob(CLIENT_A);
    const foreign = server.store.createJob(CLIENT_B);
    const second = server.store.createJob(CLIENT_A);

    expect(server.store.list(CLIENT_A).map((job) => job.id)).toEqual([first.id, second.id]);
    expect(server.store.list(CLIENT_B).map((job) => job.id)).toEqual([foreign.id]);
    expect(server.store.get(CLIENT_A, foreign.id)).toBeUndefined();
    expect(server.store.countFor(CLIENT_A)).toBe(2);
  });

  test('createJob rejects invalid options', () => {
    server = createMockServer();

    expect(() => server.store.createJob(CLIENT_A, { durationMs: 0 })).toThrow(RangeError);
    expect(() => server.store.createJob(CLIENT_A, { durationMs: 2.5 })).toThrow('durationMs');
    expect(() =>
      server.store.createJob(CLIENT_A, { outcome: 'lost' as unknown as 'failed' }),
    ).toThrow('outcome');
    expect(server.store.size).toBe(0);
  });

  test('throwing listener does not stop the job', async () => {
    server = createMockServer();
    server.store.on('change', () => {
      throw new Error('listener failure for the test');
    });
    const changes = recordChanges(server);

    const job = server.store.createJob(CLIENT_A, { durationMs: 20 });

    // The throwing listener comes first, so EventEmitter skips the recorder. The job still
    // finishes, which the store itself shows.
    await waitFor('job to complete despite the listener', () =>
      server.store.get(CLIENT_A, job.id)?.status === 'completed' ? true : undefined,
    );
    expect(changes.size).toBe(0);
  });

  test('close clears every job timer', async () => {
    server = createMockServer({ jobTimeMs: 3_600_000 });
    for (let index = 0; index < 1000; index += 1) {
      server.store.createJob(`client-${index % 10}`);
    }
    expect(server.stats().timers).toBe(1000);
    expect(server.stats().jobs).toBe(1000);

    await server.close();

    expect(server.stats().timers).toBe(0);
    expect(server.stats().jobs).toBe(0);
    expect(() => server.store.createJob(CLIENT_A)).toThrow('closed');
  });

  test('10,000 concurrent jobs all finish', async () => {
    server = createMockServer({ finishedTtlMs: 60_000 });
    let finished = 0;
    let events = 0;
    server.store.on('change', (_clientId, job) => {
      events += 1;
      if (isTerminal(job)) {
        finished += 1;
      }
    });

    for (let index = 0; index < 10_000; index += 1) {
      server.store.createJob(`client-${index % 100}`, { durationMs: 300 });
    }
    expect(server.stats().timers).toBe(10_000);

    await waitFor('10,000 jobs to finish', () => finished === 10_000, { timeoutMs: 15_000 });
    expect(events).toBe(60_000);
    expect(server.stats().jobs).toBe(10_000);
  });
});
