import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { DisposedError, HeyGenStatusListenerMode } from '../../src';
import { finishOf, record, useResources, waitFor, withTimeout } from '../helpers/sdk';
import type { ChildConfig } from './helpers/child-client';
import {
  answerBatch,
  answerJson,
  makeJob,
  routes,
  ScenarioServer,
} from './helpers/scenario-server';

const { SSE, POLL } = HeyGenStatusListenerMode;

const resources = useResources();
let server: ScenarioServer;

beforeAll(async () => {
  server = await ScenarioServer.start();
});

afterAll(async () => {
  await server.close();
});

const CHILD_SCRIPT = path.join(__dirname, 'helpers', 'child-client.ts');

/**
 * Time a child process may take to exit after its last step, in ms. Exiting needs no timer, so
 * anything near a retry delay or the EventSource's 3 s default means a handle was left open.
 */
const EXIT_WITHIN_MS = 1000;

/** Time limit of the waits for a child process, which first loads TypeScript through tsx, in ms. */
const CHILD_WAIT_MS = 10_000;

/** A child process running `child-client.ts`, with its output lines and their arrival times. */
interface Child {
  readonly process: ChildProcess;
  readonly lines: Array<{ text: string; at: number }>;
  /** Resolves with `Date.now()` at exit and the exit code. */
  readonly exited: Promise<{ at: number; code: number | null }>;
  readonly stderr: string[];
}

function startChild(config: ChildConfig): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, JSON.stringify(config)], {
    cwd: path.resolve(__dirname, '..', '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Child['lines'] = [];
  const stderr: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    for (const text of chunk.split('\n').filter((line) => line !== '')) {
      lines.push({ text, at: Date.now() });
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ at: number; code: number | null }>((resolve) => {
    child.once('exit', (code) => resolve({ at: Date.now(), code }));
  });
  resources.defer(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill();
      await exited;
    }
  });
  return { process: child, lines, exited, stderr };
}

/** Waits for an output line that starts with `prefix`, and returns its arrival time. */
async function lineOf(child: Child, prefix: string): Promise<number> {
  try {
    const line = await waitFor(
      `the child to print "${prefix}"`,
      () => child.lines.find((entry) => entry.text.startsWith(prefix)),
      { timeoutMs: CHILD_WAIT_MS, intervalMs: 10 },
    );
    return line.at;
  } catch (error) {
    throw new Error(`${(error as Error).message}. Child stderr: ${child.stderr.join('')}`);
  }
}

async function exitOf(child: Child): Promise<{ at: number; code: number | null }> {
  return withTimeout(child.exited, 'the child to exit', CHILD_WAIT_MS);
}

describe('abort on unsubscribe', () => {
  it('aborts an in-flight poll', async () => {
    const scenario = server.add('hanging-poll', { batch: routes.hang() });
    const heygen = resources.createClient({ url: scenario.url, mode: POLL });
    const recording = record(heygen.jobStatus$('job-a'));
    const poll = await waitFor('the poll to arrive', () => scenario.batches()[0]);

    recording.subscription.unsubscribe();

    await waitFor('the server to see the poll aborted', () => poll.aborted);
  });

  it('closes the stream and aborts the lookup', async () => {
    const scenario = server.add('hanging-lookup', {
      stream: routes.stallAfterOpen(),
      batch: routes.hang(),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });
    const recording = record(heygen.jobStatus$('job-a'));
    await waitFor('the stream and the lookup', () => scenario.requests.length >= 2);

    recording.subscription.unsubscribe();

    await waitFor('the server to see both requests aborted', () =>
      scenario.requests.every((request) => request.aborted),
    );
  });

  it('dispose aborts requests and ends subscribers', async () => {
    const scenario = server.add('hanging-dispose', {
      stream: routes.stallAfterOpen(),
      batch: routes.hang(),
    });
    const heygen = resources.createClient({ url: scenario.url, mode: SSE, EventSource });
    const recording = record(heygen.jobStatus$('job-a'));
    await waitFor('the stream and the lookup', () => scenario.requests.length >= 2);

    heygen.dispose();

    await finishOf(recording, 'the subscriber to end');
    expect(recording.error).toBeInstanceOf(DisposedError);
    await waitFor('the server to see both requests aborted', () =>
      scenario.requests.every((request) => request.aborted),
    );
  });
});

describe('process exit', () => {
  it.each([
    {
      what: 'unsubscribe during reset-stream backoff',
      action: 'unsubscribe' as const,
      stream: routes.resetConnection(),
    },
    {
      what: 'dispose during retry: 3600000 backoff',
      action: 'dispose' as const,
      // The stream closes at once, so the client reconnects on its own timer, while the
      // EventSource has already set a timer of the `retry:` value.
      stream: routes.streamText('retry: 3600000\n\n', { end: true }),
    },
  ])('$what exits at once', async ({ action, stream }) => {
    const scenario = server.add('exit-sse', {
      jobs: [makeJob('job-a', 'processing', 10)],
      stream,
    });
    const child = startChild({
      url: scenario.url,
      mode: 'SSE',
      jobId: 'job-a',
      action,
      afterWarning: 'SSE connection failed; retrying',
      sseRetry: { minDelayMs: 5000, maxDelayMs: 10_000 },
    });

    const actedAt = await lineOf(child, 'acted');
    const { at: exitedAt, code } = await exitOf(child);

    expect(code).toBe(0);
    expect(exitedAt - actedAt).toBeLessThan(EXIT_WITHIN_MS);
  });

  it('unsubscribe during Retry-After exits at once', async () => {
    const scenario = server.add('exit-poll', {
      batch: ({ res }) => answerJson(res, 503, { error: 'Busy' }, { 'Retry-After': '20' }),
    });
    const child = startChild({
      url: scenario.url,
      mode: 'POLL',
      jobId: 'job-a',
      action: 'unsubscribe',
      afterWarning: 'Batched status request failed; retrying',
    });

    const actedAt = await lineOf(child, 'acted');
    const { at: exitedAt, code } = await exitOf(child);

    expect(code).toBe(0);
    expect(exitedAt - actedAt).toBeLessThan(EXIT_WITHIN_MS);
  });

  it('stays alive through an outage', async () => {
    let outage = true;
    const scenario = server.add('exit-outage', {
      jobs: [makeJob('job-a', 'processing', 10)],
      stream: routes.status(503),
      batch: (context) => {
        if (outage) answerJson(context.res, 503, { error: 'Down for maintenance' });
        else answerBatch(context);
      },
    });
    const child = startChild({
      url: scenario.url,
      mode: 'SSE',
      fallback: true,
      pollInterval: 100,
      sseRetry: { minDelayMs: 100, maxDelayMs: 400 },
      jobId: 'job-a',
      action: 'wait',
    });
    // The outage lasts until the child has retried several times; only timers hold it open then.
    await waitFor('3 failed polls', () => scenario.batches().length >= 3, {
      timeoutMs: CHILD_WAIT_MS,
    });
    expect(child.process.exitCode).toBeNull();

    const endedAt = Date.now();
    outage = false;
    scenario.setJob(makeJob('job-a', 'completed'));
    const finalAt = await lineOf(child, 'final');
    const { at: exitedAt, code } = await exitOf(child);

    expect(child.lines.map((line) => line.text)).toEqual(['final completed']);
    expect(code).toBe(0);
    expect(finalAt).toBeGreaterThanOrEqual(endedAt);
    expect(exitedAt - finalAt).toBeLessThan(EXIT_WITHIN_MS);
  });
});
