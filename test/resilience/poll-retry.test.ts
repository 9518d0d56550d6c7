import { defer, of, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  HeyGenStatusListenerMode,
  HttpError,
  type Job,
  MessageParseError,
  NetworkError,
} from '../../src';
import { retryTransient } from '../../src/transports/fetch-jobs';
import { finishOf, record, useResources, waitFor } from '../helpers/sdk';
import { gapsOf, RecordingLogger, recordErrors } from './helpers/client';
import {
  answerBatch,
  answerHtml,
  answerJson,
  type Handler,
  makeJob,
  type Scenario,
  ScenarioServer,
} from './helpers/scenario-server';

const { POLL } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

/** Backoff range of batched status requests in the client (`REQUEST_RETRY`), in ms. */
const REQUEST_RETRY = { minDelayMs: 250, maxDelayMs: 30_000 };

/** Allowance for connection set-up and timer lateness on a busy machine, in ms. */
const LATENESS_MS = 150;

/** Allowance for timer rounding when a delay is a lower bound, in ms. */
const EARLY_MS = 5;

/** A batch handler that runs `failures[n]` for the n-th request and responds normally after them. */
function failFirst(failures: readonly Handler[]): Handler {
  return (context) => {
    const failure = failures[context.request.index];
    if (failure === undefined) answerBatch(context);
    else failure(context);
  };
}

/** Start times of the batch requests of a scenario. */
function batchStarts(scenario: Scenario): number[] {
  return scenario.batches().map((request) => request.startedAt);
}

/** Returns the errors that the client logged as retried, in order. */
function retriedErrors(logger: RecordingLogger): unknown[] {
  return logger
    .at('warn')
    .filter((entry) => entry.message.includes('retrying'))
    .map((entry) => entry.fields?.error);
}

describe('Retry-After', () => {
  it('waits the seconds of a 503', async () => {
    const jobId = 'job-503-seconds';
    const scenario = server.add('retry-after-seconds', {
      jobs: [makeJob(jobId, 'completed')],
      batch: failFirst([
        ({ res }) => answerJson(res, 503, { error: 'Busy' }, { 'Retry-After': '1' }),
      ]),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: POLL, pollInterval: 50 });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    const [gap] = gapsOf(batchStarts(scenario));
    expect(gap).toBeGreaterThanOrEqual(1000 - EARLY_MS);
    expect(gap).toBeLessThanOrEqual(1000 + LATENESS_MS);
  });

  it('waits until the HTTP date of a 429', async () => {
    const jobId = 'job-429-date';
    let expectedDelayMs = Number.NaN;
    const scenario = server.add('retry-after-date', {
      jobs: [makeJob(jobId, 'completed')],
      batch: failFirst([
        ({ res }) => {
          // An HTTP date has whole seconds, so the delay is from 1 to 2 s.
          const date = new Date(Date.now() + 2000).toUTCString();
          expectedDelayMs = Date.parse(date) - Date.now();
          answerJson(res, 429, { error: 'Slow down' }, { 'Retry-After': date });
        },
      ]),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: POLL, pollInterval: 50 });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    const [gap] = gapsOf(batchStarts(scenario));
    expect(expectedDelayMs).toBeGreaterThan(REQUEST_RETRY.minDelayMs);
    expect(gap).toBeGreaterThanOrEqual(expectedDelayMs - EARLY_MS);
    expect(gap).toBeLessThanOrEqual(expectedDelayMs + LATENESS_MS);
  });

  it('is clamped to the retry range', () => {
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    scheduler.run(({ cold, expectObservable }) => {
      const answers = [
        throwError(() => new HttpError('GET /status?ids=a', 429, 'Slow down', 3_600_000)),
        throwError(() => new HttpError('GET /status?ids=a', 503, 'Busy', 0)),
        cold('a|'),
      ];
      let attempt = 0;
      const request$ = defer(() => answers[attempt++] ?? of('unexpected'));

      const retried$ = request$.pipe(
        retryTransient({ minDelayMs: 10, maxDelayMs: 100 }, new RecordingLogger(), 'Test request'),
      );

      // An hour of Retry-After waits the maximum of 100 ms, and 0 s waits the minimum of 10 ms.
      expectObservable(retried$).toBe('110ms a|');
    });
  });
});

describe('transient failures', () => {
  it.each([
    {
      what: 'a 500 with a JSON error',
      failure: (({ res }) => answerJson(res, 500, { error: 'Internal' })) as Handler,
      expected: { name: 'HttpError', status: 500 },
    },
    {
      what: 'a reset connection',
      failure: (({ req }) => req.socket.destroy()) as Handler,
      expected: { name: 'NetworkError' },
    },
    {
      what: 'a 502 HTML error page',
      failure: (({ res }) => answerHtml(res, 502)) as Handler,
      expected: { name: 'HttpError', status: 502 },
    },
    {
      what: 'a 200 HTML page',
      failure: (({ res }) => answerHtml(res, 200)) as Handler,
      expected: { name: 'HttpError', status: 200 },
    },
    {
      what: 'an HTML page labelled as JSON',
      failure: (({ res }) => {
        res.writeHead(503, { 'Content-Type': 'application/json' });
        res.end('<html><body>Service Unavailable</body></html>');
      }) as Handler,
      expected: { name: 'HttpError', status: 503 },
    },
    {
      what: 'invalid JSON',
      failure: (({ res }) => {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"jobs": [');
      }) as Handler,
      expected: { name: 'MessageParseError' },
    },
  ])('retries $what once with backoff', async ({ failure, expected }) => {
    const jobId = 'job-transient';
    const scenario = server.add('transient', {
      jobs: [makeJob(jobId, 'completed')],
      batch: failFirst([failure]),
    });
    const logger = new RecordingLogger();
    const heygen = resources.createClient({
      url: scenario.url,
      mode: POLL,
      pollInterval: 50,
      logging: logger,
    });

    const recording = await finishOf(record(heygen.jobStatus$(jobId)), 'the job to complete');

    expect(recording.error).toBeUndefined();
    expect(recording.values.at(-1)?.status).toBe('completed');
    expect(scenario.batches()).toHaveLength(2);
    const [gap] = gapsOf(batchStarts(scenario));
    expect(gap).toBeGreaterThanOrEqual(REQUEST_RETRY.minDelayMs - EARLY_MS);
    expect(gap).toBeLessThanOrEqual(2 * REQUEST_RETRY.minDelayMs + LATENESS_MS);
    const [error, ...more] = retriedErrors(logger);
    expect(more).toEqual([]);
    expect(error).toMatchObject(expected);
    // The error names the HTML page it got, never a JSON syntax error about it.
    if (error instanceof HttpError) expect(error.detail).not.toMatch(/JSON at position|Unexpected/);
    if (expected.name === 'NetworkError') expect(error).toBeInstanceOf(NetworkError);
    if (expected.name === 'MessageParseError') expect(error).toBeInstanceOf(MessageParseError);
  });

  it('keeps one polling loop after three failures', async () => {
    const jobId = 'job-one-loop';
    const intervalMs = 100;
    const busy: Handler = ({ res }) =>
      answerJson(res, 503, { error: 'Busy' }, { 'Retry-After': '0' });
    const scenario = server.add('one-loop', {
      jobs: [makeJob(jobId, 'processing', 10)],
      batch: failFirst([busy, busy, busy]),
    });
    const heygen = resources.createClient({
      url: scenario.url,
      mode: POLL,
      pollInterval: intervalMs,
    });
    const recording = record(heygen.jobStatus$(jobId));

    await waitFor('the first successful poll', () => recording.values.length > 0);
    const succeededAt = Date.now();
    await waitFor('10 polls after the first success', () => scenario.batches().length >= 14);
    const windowMs = Date.now() - succeededAt;

    const requests = scenario.batches();
    // Retry-After: 0 is raised to the minimum retry delay.
    for (const gap of gapsOf(batchStarts(scenario).slice(0, 4))) {
      expect(gap).toBeGreaterThanOrEqual(REQUEST_RETRY.minDelayMs - EARLY_MS);
    }
    // After the success, each poll starts an interval after the previous one ended: never two at
    // once, and no faster than one per interval.
    const polls = requests.slice(3);
    for (const [index, poll] of polls.slice(1).entries()) {
      const previous = polls[index];
      expect(poll.startedAt).toBeGreaterThanOrEqual((previous?.endedAt ?? Infinity) - 1);
      expect(poll.startedAt - (previous?.startedAt ?? 0)).toBeGreaterThanOrEqual(
        intervalMs - EARLY_MS,
      );
    }
    expect(polls.length - 1).toBeLessThanOrEqual(Math.ceil(windowMs / intervalMs) + 1);
    expect(recording.error).toBeUndefined();
  });
});

describe('batch answers', () => {
  it('skips a malformed job and reports it once', async () => {
    const good = 'job-good';
    const bad = 'job-bad';
    const badEntry = { ...makeJob(bad, 'processing', 10), status: 'cancelled' };
    let polls = 0;
    const scenario = server.add('malformed-entry', {
      batch: ({ res }) => {
        polls += 1;
        // The good job moves on with each poll while the bad entry stays the same.
        const goodJob: Job =
          polls < 4 ? makeJob(good, 'processing', polls * 10) : makeJob(good, 'completed');
        answerJson(res, 200, { jobs: [badEntry, goodJob], missing: [] });
      },
    });
    const logger = new RecordingLogger();
    const heygen = resources.createClient({
      url: scenario.url,
      mode: POLL,
      pollInterval: 30,
      logging: logger,
    });
    const errors = recordErrors(heygen);
    const badRecording = record(heygen.jobStatus$(bad));

    const goodRecording = await finishOf(record(heygen.jobStatus$(good)), 'the good job to end');

    expect(goodRecording.error).toBeUndefined();
    expect(goodRecording.values.at(-1)?.status).toBe('completed');
    expect(scenario.batches().length).toBeGreaterThanOrEqual(4);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(MessageParseError);
    expect(errors[0]?.message).toContain('"cancelled"');
    expect(logger.at('error')).toHaveLength(1);
    // The job with the malformed entry stays watched: a later poll may bring a valid state.
    expect(badRecording.error).toBeUndefined();
    expect(badRecording.completed).toBe(false);
  });
});
