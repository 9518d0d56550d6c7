import { EventSource } from 'eventsource';
import {
  HeyGenStatusListenerMode,
  InvalidArgumentError,
  JobFailedError,
  JobNotFoundError,
  ListenerNotFoundError,
  type HeyGenAPIOptions,
  type Job,
  type JobStatus,
} from '../../src';
import {
  finishOf,
  firstNonForwardStep,
  record,
  recordServerStates,
  rejectionOf,
  stateOf,
  useResources,
  waitFor,
  waitForServerStatus,
  withTimeout,
} from '../helpers/sdk';

const resources = useResources();

/** Every state of a mock job that completes, in order: 4 processing steps, then the outcome. */
const COMPLETED_STATES = [
  'pending:0',
  'processing:0',
  'processing:25',
  'processing:50',
  'processing:75',
  'completed:100',
];

/** A well-formed id that the server never issued. */
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const TRANSPORTS: ReadonlyArray<{
  name: string;
  options: Omit<HeyGenAPIOptions, 'url'>;
  /** Whether the transport delivers every state after its first one: polling misses some. */
  deliversEveryState: boolean;
  /** The server's request counter that only this transport increments. */
  route: 'stream' | 'batch';
}> = [
  {
    name: 'SSE',
    options: { mode: HeyGenStatusListenerMode.SSE, EventSource },
    deliversEveryState: true,
    route: 'stream',
  },
  {
    name: 'POLL',
    options: { mode: HeyGenStatusListenerMode.POLL, pollInterval: 40 },
    deliversEveryState: false,
    route: 'batch',
  },
];

describe.each(TRANSPORTS)('jobStatus$ over $name', ({ options, deliversEveryState, route }) => {
  async function setup() {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, ...options });
    return { server, url, heygen };
  }

  it('emits each state in order and completes', async () => {
    const { server, heygen } = await setup();
    const serverStates = recordServerStates(server, resources);
    const jobId = await heygen.createJob({ durationMs: 500 });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), `job ${jobId} to finish`);

    expect(recording.error).toBeUndefined();
    expect(recording.completed).toBe(true);
    const states = recording.values.map(stateOf);
    expect(states[0]).toBe('pending:0');
    expect(states.at(-1)).toBe('completed:100');
    expect(firstNonForwardStep(recording.values)).toBeUndefined();
    expect(recording.values.every((job) => job.id === jobId)).toBe(true);
    expect(serverStates.get(jobId)).toEqual(COMPLETED_STATES);
    for (const state of states) expect(COMPLETED_STATES).toContain(state);

    // The first state comes from the create response. After it, the stream must carry every state
    // from the first one it delivered, while polling may miss states between two polls.
    const firstTransported = COMPLETED_STATES.indexOf(states[1] ?? '');
    const everyLaterState = COMPLETED_STATES.slice(firstTransported);
    expect(deliversEveryState ? states.slice(1) : everyLaterState).toEqual(everyLaterState);
    expect(server.stats().requests[route]).toBeGreaterThan(0);
  });

  it('emits failed, then errors with JobFailedError', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300, outcome: 'failed' });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), `job ${jobId} to fail`);

    expect(recording.completed).toBe(false);
    expect(recording.error).toBeInstanceOf(JobFailedError);
    const error = recording.error as JobFailedError;
    expect(error.job.id).toBe(jobId);
    expect(error.job.status).toBe('failed');
    expect(recording.values.at(-1)?.status).toBe('failed');
    expect(recording.values.filter((job) => job.status === 'failed')).toHaveLength(1);
    expect(firstNonForwardStep(recording.values)).toBeUndefined();
  });

  it('waitForJob resolves with the completed job', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300 });

    const job = await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(job.id).toBe(jobId);
    expect(job.status).toBe('completed');
    expect(job.progress).toBe(100);
  });

  it('waitForJob rejects with JobFailedError', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300, outcome: 'failed' });

    const error = await rejectionOf(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(error).toBeInstanceOf(JobFailedError);
    expect((error as JobFailedError).job.status).toBe('failed');
    expect((error as JobFailedError).job.error).toMatch(/failure/i);
  });

  it('listen calls back with id, status and job', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300 });
    const calls: Array<{ id: string; status: JobStatus; job: Job }> = [];

    heygen.listen(jobId, (id, status, job) => calls.push({ id, status, job }));
    await waitFor(`the listener of job ${jobId} to see completed`, () =>
      calls.some((call) => call.status === 'completed'),
    );

    expect(calls[0]?.status).toBe('pending');
    for (const call of calls) {
      expect(call.id).toBe(jobId);
      expect(call.job.id).toBe(jobId);
      expect(call.status).toBe(call.job.status);
    }
    expect(firstNonForwardStep(calls.map((call) => call.job))).toBeUndefined();
    // A listener removes itself once its job finishes.
    expect(() => heygen.stop(jobId)).toThrow(ListenerNotFoundError);
  });

  it('listen reports a failed job through the callback only', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 200, outcome: 'failed' });
    const statuses: JobStatus[] = [];
    const onError = jest.fn();

    heygen.listen(jobId, (_id, status) => statuses.push(status), onError);
    await waitFor(`the listener of job ${jobId} to see failed`, () => statuses.includes('failed'));

    expect(statuses.filter((status) => status === 'failed')).toHaveLength(1);
    expect(onError).not.toHaveBeenCalled();
  });

  it('listen on a finished job calls back once', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 100 });
    await withTimeout(heygen.waitForJob(jobId), `waitForJob(${jobId})`);
    const reported = record(heygen.errors$);
    const statuses: JobStatus[] = [];
    const onError = jest.fn();

    // The client already knows the final state, so the callback runs before listen() returns.
    heygen.listen(jobId, (_id, status) => statuses.push(status), onError);

    expect(statuses).toEqual(['completed']);
    expect(onError).not.toHaveBeenCalled();
    expect(reported.values).toEqual([]);
    expect(() => heygen.stop(jobId)).toThrow(ListenerNotFoundError);
  });

  it('listen throws for a malformed id', async () => {
    const { heygen } = await setup();
    const reported = record(heygen.errors$);
    const onError = jest.fn();

    expect(() => heygen.listen('not a job id!', jest.fn(), onError)).toThrow(InvalidArgumentError);
    expect(() => heygen.listen('not a job id!', jest.fn(), onError)).toThrow(/not a job id!/);
    expect(onError).not.toHaveBeenCalled();
    expect(reported.values).toEqual([]);
    expect(() => heygen.stop('not a job id!')).toThrow(ListenerNotFoundError);
  });

  it('stop ends the callbacks of a listener', async () => {
    const { server, heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300 });
    const statuses: JobStatus[] = [];

    heygen.listen(jobId, (_id, status) => statuses.push(status));
    heygen.stop(jobId);
    await waitForServerStatus(server, heygen.clientId, jobId, 'completed');

    expect(statuses).toEqual(['pending']);
    expect(() => heygen.stop(jobId)).toThrow(ListenerNotFoundError);
  });

  it('stop throws ListenerNotFoundError for an unknown id', async () => {
    const { heygen } = await setup();

    expect(() => heygen.stop(UNKNOWN_ID)).toThrow(ListenerNotFoundError);
    expect(() => heygen.stop(UNKNOWN_ID)).toThrow(UNKNOWN_ID);
  });

  it('delivers a job finished before subscribe', async () => {
    const { server, heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 20 });
    await waitForServerStatus(server, heygen.clientId, jobId, 'completed');

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), `job ${jobId} to finish`);

    expect(recording.error).toBeUndefined();
    expect(recording.completed).toBe(true);
    expect(recording.values.map(stateOf).at(-1)).toBe('completed:100');
  });

  it('delivers a finished job to a new client', async () => {
    // A second client with the same client id has no remembered state: everything comes from the
    // transport's first read.
    const { server, url, heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 20 });
    await waitForServerStatus(server, heygen.clientId, jobId, 'completed');
    const sameOwner = resources.createClient({ url, ...options, clientId: heygen.clientId });

    const recording = await finishOf(record(sameOwner.jobStatus$(jobId)), `job ${jobId} to finish`);

    expect(recording.error).toBeUndefined();
    expect(recording.values.map(stateOf)).toEqual(['completed:100']);
  });

  it('errors with JobNotFoundError for an unknown id', async () => {
    const { heygen } = await setup();

    const recording = await finishOf(record(heygen.jobStatus$(UNKNOWN_ID)), 'the unknown job');

    expect(recording.values).toEqual([]);
    expect(recording.error).toBeInstanceOf(JobNotFoundError);
    expect((recording.error as JobNotFoundError).jobId).toBe(UNKNOWN_ID);
  });

  it('errors with JobNotFoundError beside a running job', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 400 });
    const running = record(heygen.jobStatus$(jobId));
    await waitFor(`job ${jobId} to be processing`, () =>
      running.values.some((job) => job.status === 'processing'),
    );

    const unknown = await finishOf(record(heygen.jobStatus$(UNKNOWN_ID)), 'the unknown job');
    await finishOf(running, `job ${jobId} to finish`);

    expect(unknown.error).toBeInstanceOf(JobNotFoundError);
    expect(running.error).toBeUndefined();
    expect(running.completed).toBe(true);
  });

  it("errors with JobNotFoundError for another client's job", async () => {
    const { url, heygen } = await setup();
    const owner = resources.createClient({ url, mode: HeyGenStatusListenerMode.POLL });
    const jobId = await owner.createJob({ durationMs: 300 });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), "the other client's job");
    const waitError = await rejectionOf(heygen.waitForJob(jobId), `waitForJob(${jobId})`);

    expect(recording.values).toEqual([]);
    expect(recording.error).toBeInstanceOf(JobNotFoundError);
    expect((recording.error as JobNotFoundError).jobId).toBe(jobId);
    expect(waitError).toBeInstanceOf(JobNotFoundError);
  });

  it('getJob returns the job or rejects', async () => {
    const { heygen } = await setup();
    const jobId = await heygen.createJob({ durationMs: 300 });

    const job = await heygen.getJob(jobId);
    const notFound = await rejectionOf(heygen.getJob(UNKNOWN_ID), 'getJob(unknown id)');
    const malformed = await rejectionOf(heygen.getJob('bad id'), 'getJob(malformed id)');

    expect(job.id).toBe(jobId);
    expect(['pending', 'processing']).toContain(job.status);
    expect(notFound).toBeInstanceOf(JobNotFoundError);
    expect(malformed).toBeInstanceOf(InvalidArgumentError);
  });

  it('reports a malformed id through the error channel', async () => {
    const { heygen } = await setup();
    const malformed = 'not a job id!';

    // Building the Observable must not throw: the error arrives on subscribe.
    const status$ = heygen.jobStatus$(malformed);
    const recording = record(status$);
    const waitError = await rejectionOf(heygen.waitForJob(malformed), 'waitForJob(malformed)');

    expect(recording.error).toBeInstanceOf(InvalidArgumentError);
    expect((recording.error as InvalidArgumentError).argument).toBe('jobId');
    expect((recording.error as InvalidArgumentError).value).toBe(malformed);
    expect(waitError).toBeInstanceOf(InvalidArgumentError);
  });
});
