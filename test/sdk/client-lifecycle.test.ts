import { EventSource } from 'eventsource';
import {
  DisposedError,
  HeyGenAPI,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  InvalidArgumentError,
  type Logger,
  type WaitForJobOptions,
} from '../../src';
import {
  CountingFetch,
  finishOf,
  record,
  rejectionOf,
  startPollClock,
  useResources,
  waitFor,
  withTimeout,
} from '../helpers/sdk';

const { SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();

/** Server-side duration of jobs that must outlive the test. Closing the server clears their timers. */
const LONG_JOB_MS = 30_000;

describe('waitForJob cancellation', () => {
  it('rejects with AbortError and closes the stream', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });
    const controller = new AbortController();

    const waiting = rejectionOf(
      heygen.waitForJob(jobId, { signal: controller.signal }),
      'waitForJob',
    );
    await waitFor('the stream to open', () => server.stats().openStreams === 1);
    controller.abort();

    const error = await waiting;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('AbortError');
    expect((error as Error).message).toContain(jobId);
    await waitFor('the stream to close', () => server.stats().openStreams === 0);
  });

  it('rejects at once for a signal that already aborted', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });

    const error = await rejectionOf(
      heygen.waitForJob(jobId, { signal: AbortSignal.abort() }),
      'waitForJob',
    );

    expect((error as Error).name).toBe('AbortError');
    expect(server.stats().requests.stream).toBeUndefined();
  });

  it('rejects with TimeoutError and closes the stream', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });

    const error = await rejectionOf(heygen.waitForJob(jobId, { timeout: 150 }), 'waitForJob');

    expect((error as Error).name).toBe('TimeoutError');
    expect((error as Error).message).toContain('150 ms');
    expect(server.stats().requests.stream).toBe(1);
    await waitFor('the stream to close', () => server.stats().openStreams === 0);
  });

  it('stops polling after a timeout', async () => {
    const pollInterval = 30;
    const { url } = await resources.startServer();
    const counting = new CountingFetch();
    const heygen = resources.createClient({ url, mode: POLL, pollInterval, fetch: counting.fetch });
    const clock = await startPollClock(resources, url, pollInterval);
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });

    const error = await rejectionOf(heygen.waitForJob(jobId, { timeout: 150 }), 'waitForJob');
    const pollsAtTimeout = counting.batchRequests().length;
    await clock.waitForPolls(3);

    expect((error as Error).name).toBe('TimeoutError');
    expect(pollsAtTimeout).toBeGreaterThan(0);
    expect(counting.batchRequests().length).toBe(pollsAtTimeout);
  });

  it.each([0, -5, Number.NaN, 2 ** 31])('rejects the timeout %p', async (timeout) => {
    const { url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL });

    const error = await rejectionOf(heygen.waitForJob('job-1', { timeout }), 'waitForJob');

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe('options.timeout');
  });

  it.each<[string, unknown]>([
    ['options.signal', { signal: {} }],
    ['options.signal', { signal: 'abort' }],
    ['options.timout', { timout: 1000 }],
    ['options', null],
  ])('rejects %s in %p', async (argument, options) => {
    const { url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL });

    const error = await rejectionOf(
      heygen.waitForJob('job-1', options as WaitForJobOptions),
      'waitForJob',
    );

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
  });
});

describe('createJob', () => {
  it.each<[string, Record<string, unknown>]>([
    ['options.durationMs', { durationMs: 0 }],
    ['options.durationMs', { durationMs: 1.5 }],
    ['options.durationMs', { durationMs: 3_600_001 }],
    ['options.outcome', { outcome: 'cancelled' }],
    ['options.duration', { duration: 3000 }],
    ['options.signal', { signal: {} }],
  ])('rejects %s in %p without a request', async (argument, options) => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL });

    const error = await rejectionOf(heygen.createJob(options), 'createJob');

    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).argument).toBe(argument);
    expect(server.stats().requests.create).toBeUndefined();
  });

  it('rejects with AbortError when the signal aborts', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL });
    server.faults.setLatency(10_000);
    const controller = new AbortController();

    const creating = rejectionOf(heygen.createJob({ signal: controller.signal }), 'createJob');
    await waitFor('the create request', () => server.stats().requests.create === 1);
    controller.abort();

    expect(((await creating) as Error).name).toBe('AbortError');
    // Aborting closed the request, so the server dropped the delayed response.
    await waitFor('the delayed response to be dropped', () => server.stats().timers === 0);
  });
});

describe('dispose', () => {
  it('ends subscriptions with DisposedError and closes the stream', async () => {
    const { server, url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobId = await heygen.createJob({ durationMs: LONG_JOB_MS });
    const recording = record(heygen.jobStatus$(jobId));
    const waiting = rejectionOf(heygen.waitForJob(jobId), 'waitForJob');
    const modes = record(heygen.mode$);
    const onError = jest.fn();
    heygen.listen(jobId, jest.fn(), onError);
    await waitFor('the stream to open', () => server.stats().openStreams === 1);

    heygen.dispose();

    await finishOf(recording, 'the subscriber to end');
    expect(recording.error).toBeInstanceOf(DisposedError);
    expect(await waiting).toBeInstanceOf(DisposedError);
    expect(modes.completed).toBe(true);
    // Disposing stops listeners silently: their owner asked for it.
    expect(onError).not.toHaveBeenCalled();
    await waitFor('the stream to close', () => server.stats().openStreams === 0);
  });

  it('rejects every later call with DisposedError', async () => {
    const { url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: POLL });
    const jobId = await heygen.createJob({ durationMs: 100 });
    heygen.dispose();

    const late = record(heygen.jobStatus$(jobId));

    expect(late.error).toBeInstanceOf(DisposedError);
    expect(await rejectionOf(heygen.waitForJob(jobId), 'waitForJob')).toBeInstanceOf(DisposedError);
    expect(await rejectionOf(heygen.createJob(), 'createJob')).toBeInstanceOf(DisposedError);
    expect(await rejectionOf(heygen.getJob(jobId), 'getJob')).toBeInstanceOf(DisposedError);
    expect(() => heygen.listen(jobId, jest.fn())).toThrow(DisposedError);
    expect(() => heygen.changeBackend(SSE)).toThrow(DisposedError);
    expect(() => heygen.stop(jobId)).toThrow(DisposedError);
    expect(await rejectionOf(heygen.waitForJob(jobId), 'waitForJob')).toHaveProperty(
      'message',
      expect.stringContaining('waitForJob()'),
    );
    expect(() => heygen.dispose()).not.toThrow();
  });
});

describe('constructor validation', () => {
  const valid: HeyGenAPIOptions = { url: 'http://127.0.0.1:3000', mode: POLL };

  it.each<[keyof HeyGenAPIOptions, string, unknown]>([
    ['url', 'text that is not a URL', 'not a url'],
    ['url', 'an ftp URL', 'ftp://127.0.0.1/'],
    ['url', 'a URL with a query', 'http://127.0.0.1:3000/?uuid=abc'],
    ['url', 'a number', 42],
    ['url', 'a missing value', undefined],
    ['mode', 'an unknown name', 'FAST'],
    ['mode', 'a lowercase name', 'sse'],
    ['mode', 'a missing value', undefined],
    ['pollInterval', 'zero', 0],
    ['pollInterval', 'a negative number', -1000],
    ['pollInterval', 'NaN', Number.NaN],
    ['pollInterval', 'a numeric string', '1000'],
    ['clientId', 'an empty string', ''],
    ['clientId', 'a space', 'has space'],
    ['clientId', '129 characters', 'x'.repeat(129)],
    ['clientId', 'a number', 7],
    ['logging', 'a string', 'yes'],
    ['logging', 'a logger without debug, warn and error', { info: () => undefined }],
    ['EventSource', 'a string', 'EventSource'],
    ['EventSource', 'a plain object', {}],
  ])('rejects options.%s set to %s', (option, _description, value) => {
    const create = (): HeyGenAPI =>
      new HeyGenAPI({ ...valid, [option]: value } as unknown as HeyGenAPIOptions);

    expect(create).toThrow(InvalidArgumentError);
    expect(create).toThrow(`options.${option}`);
    let thrown: unknown;
    try {
      create();
    } catch (error) {
      thrown = error;
    }
    expect((thrown as InvalidArgumentError).argument).toBe(`options.${option}`);
    expect((thrown as InvalidArgumentError).value).toBe(value);
  });

  it('rejects a misspelt option', () => {
    const create = (): HeyGenAPI =>
      new HeyGenAPI({ ...valid, polInterval: 5 } as unknown as HeyGenAPIOptions);

    expect(create).toThrow(InvalidArgumentError);
    expect(create).toThrow('options.polInterval');
    expect(create).toThrow('pollInterval');
  });

  it('rejects a misspelt sseRetry option', () => {
    const create = (): HeyGenAPI =>
      new HeyGenAPI({ ...valid, sseRetry: { maxAttempt: 3 } } as unknown as HeyGenAPIOptions);

    expect(create).toThrow('options.sseRetry.maxAttempt');
  });

  it('shows NaN in the message', () => {
    expect(() => new HeyGenAPI({ ...valid, pollInterval: Number.NaN })).toThrow(
      'Invalid options.pollInterval: NaN.',
    );
  });

  it('accepts the boundary values', () => {
    const heygen = new HeyGenAPI({
      ...valid,
      pollInterval: 10,
      clientId: 'x'.repeat(128),
      logging: false,
      EventSource,
    });

    expect(heygen.clientId).toBe('x'.repeat(128));
    heygen.dispose();
  });
});

describe('logging', () => {
  const CONSOLE_METHODS = ['log', 'debug', 'info', 'warn', 'error'] as const;

  function spyOnConsole(): jest.SpyInstance[] {
    return CONSOLE_METHODS.map((method) =>
      jest.spyOn(console, method).mockImplementation(() => undefined),
    );
  }

  afterEach(() => {
    jest.restoreAllMocks();
  });

  /** Runs a job on SSE, switches to POLL mid-job, and disposes the client. The client polls every 40 ms. */
  async function switchMidJob(heygen: HeyGenAPI, server: { stats(): { openStreams: number } }) {
    const jobId = await heygen.createJob({ durationMs: 300 });
    const recording = record(heygen.jobStatus$(jobId));
    await waitFor('the stream to open', () => server.stats().openStreams === 1);
    heygen.changeBackend(POLL);
    await finishOf(recording, `job ${jobId} to finish`);
    heygen.dispose();
  }

  it('is silent by default', async () => {
    const { server, url } = await resources.startServer();
    const spies = spyOnConsole();
    const heygen = resources.createClient({ url, mode: SSE, EventSource, pollInterval: 40 });

    await switchMidJob(heygen, server);

    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('logs transport changes with ISO timestamps when true', async () => {
    const { server, url } = await resources.startServer();
    const spies = spyOnConsole();
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      pollInterval: 40,
      logging: true,
    });

    await switchMidJob(heygen, server);

    const lines = spies.flatMap((spy) => spy.mock.calls.map((call) => String(call[0])));
    const change = lines.find((line) => line.includes('Transport changed from SSE to POLL'));
    expect(change).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z heygen INFO /);
    const timestamp = (change ?? '').split(' ')[0] ?? '';
    expect(new Date(timestamp).toISOString()).toBe(timestamp);
    expect(Math.abs(Date.now() - Date.parse(timestamp))).toBeLessThan(10_000);
  });

  it('sends records to a custom logger', async () => {
    const { server, url } = await resources.startServer();
    const spies = spyOnConsole();
    const logger: jest.Mocked<Logger> = {
      debug: jest.fn(),
      info: jest.fn(),
      warn: jest.fn(),
      error: jest.fn(),
    };
    const heygen = resources.createClient({
      url,
      mode: SSE,
      EventSource,
      pollInterval: 40,
      logging: logger,
    });

    await switchMidJob(heygen, server);

    expect(logger.info).toHaveBeenCalledWith('Transport changed from SSE to POLL', {
      from: SSE,
      to: POLL,
    });
    expect(logger.info).toHaveBeenCalledWith('Transport change requested', { mode: POLL });
    expect(logger.info).toHaveBeenCalledWith('Disposing the client');
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    // The client id works like a password: no record may contain it.
    const records = JSON.stringify([
      logger.debug.mock.calls,
      logger.info.mock.calls,
      logger.warn.mock.calls,
      logger.error.mock.calls,
    ]);
    expect(records).not.toContain(heygen.clientId);
  });
});

describe('late subscribers', () => {
  it('get the latest state first', async () => {
    const { url } = await resources.startServer();
    const heygen = resources.createClient({ url, mode: SSE, EventSource });
    const jobId = await heygen.createJob({ durationMs: 500 });
    const first = record(heygen.jobStatus$(jobId));
    await waitFor(`job ${jobId} to reach 25 %`, () =>
      first.values.some((job) => job.progress >= 25),
    );

    const late = record(heygen.jobStatus$(jobId));

    expect(late.values[0]).toEqual(first.values.at(-1));
    await finishOf(late, 'the late subscriber to finish');
    expect(late.values.at(-1)?.status).toBe('completed');
    await withTimeout(first.finished, 'the first subscriber to finish');
  });
});
