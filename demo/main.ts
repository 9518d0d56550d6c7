/**
 * End-to-end demo of the SDK (`npm start`): five jobs watched over SSE with fallback to polling,
 * through an SSE outage injected into an in-process mock server. Run `npm start -- --help` for the
 * options.
 */
import { createMockServer, type MockServer } from '../mock-server';
import { type CreateJobOptions, HeyGenAPI, HeyGenStatusListenerMode } from '../src';
import { Display } from './display';
import { createSdkLogger, createServerLogger } from './log-sinks';
import { type DemoOptions, JOB_COUNT, parseDemoOptions, USAGE, UsageError } from './options';
import { RequestCounter } from './request-counter';
import { runScenario } from './scenario';
import { evaluate, formatSummary, type ServerCounters } from './summary';
import { scenarioTimings, type Timings } from './timings';

const EXIT_FAILED = 1;
const EXIT_USAGE = 2;
/** 128 + SIGINT (2), the usual exit status after Ctrl-C. */
const EXIT_INTERRUPTED = 130;

/** Reasons for aborting the scenario early, passed to `AbortController.abort`. */
const SIGINT = 'SIGINT';
const OUTPUT_CLOSED = 'stdout closed';

/** Time in ms that reading `GET /__mock/stats` from an external server may take. */
const STATS_TIMEOUT_MS = 2000;

/**
 * Time in ms after cleanup before the demo exits anyway. Cleanup closes every connection and timer,
 * so this fires only when something still keeps the event loop alive, and then it prints a message.
 */
const EXIT_GRACE_MS = 3000;

async function main(): Promise<number> {
  let options: DemoOptions;
  try {
    options = parseDemoOptions(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\nRun "npm start -- --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  const timings = scenarioTimings(options.jobTimeMs);
  const live = process.stdout.isTTY === true;
  const display = new Display(process.stdout, {
    live,
    verbose: options.verbose,
    color: live && process.env.NO_COLOR === undefined,
  });

  // The first Ctrl-C ends the scenario and cleans up. `once` removes the handler, so a second
  // Ctrl-C ends the process at once.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    display.log(
      'demo',
      'warn',
      'Interrupted (SIGINT): cleaning up. Press Ctrl-C again to quit at once',
    );
    interrupt.abort(SIGINT);
  };
  process.once('SIGINT', onSigint);

  // A closed stdout, such as a pipe into `head`, ends the run like Ctrl-C, but without output.
  const onOutputError = (error: NodeJS.ErrnoException): void => {
    display.detach();
    if (error.code !== 'EPIPE')
      process.stderr.write(`Writing to stdout failed: ${error.message}\n`);
    interrupt.abort(OUTPUT_CLOSED);
  };
  process.stdout.on('error', onOutputError);

  let target: Target | undefined;
  let api: HeyGenAPI | undefined;
  try {
    target = await startTarget(options, timings, display);
    const requests = new RequestCounter();
    api = createClient(target.url, timings, display, requests);
    display.log('demo', 'info', 'Scenario started', {
      jobs: JOB_COUNT,
      creationGapMs: timings.creationGapMs,
      outageMs: target.server === undefined ? undefined : timings.outageMs,
      timeoutMs: timings.overallTimeoutMs,
    });

    const result = await runScenario({
      api,
      display,
      timings,
      faults: target.server?.faults,
      createOptions: target.createOptions,
      signal: interrupt.signal,
    });
    display.close();

    const verdict = evaluate(result, target.server !== undefined);
    const serverCounters = await readServerCounters(target);
    display.print(formatSummary(result, requests, serverCounters, verdict));

    if (result.outcome === 'interrupted') {
      display.log('demo', 'warn', `Demo interrupted (${String(interrupt.signal.reason)})`);
      return interrupt.signal.reason === SIGINT ? EXIT_INTERRUPTED : EXIT_FAILED;
    }
    if (!verdict.passed) {
      display.log('demo', 'error', `Demo failed: ${verdict.reasons.join('; ')}`);
      return EXIT_FAILED;
    }
    display.log('demo', 'info', 'Demo passed');
    return 0;
  } catch (error) {
    display.close();
    display.log('demo', 'error', 'Demo failed', { error });
    return EXIT_FAILED;
  } finally {
    api?.dispose();
    if (target?.server !== undefined) {
      await target.server.close();
      display.log('demo', 'info', 'Mock server closed');
    }
    process.off('SIGINT', onSigint);
    process.stdout.off('error', onOutputError);
  }
}

/** The server the scenario runs against. */
interface Target {
  readonly url: string;
  /** The in-process mock server, or `undefined` for an external one. */
  readonly server: MockServer | undefined;
  /** Options of each `createJob` call. */
  readonly createOptions: CreateJobOptions;
}

/** Starts the in-process mock server on a free loopback port, or selects the `--url` server. */
async function startTarget(
  options: DemoOptions,
  timings: Timings,
  display: Display,
): Promise<Target> {
  if (options.url !== undefined) {
    display.log('demo', 'info', 'Using an external mock server', { url: options.url });
    display.log(
      'demo',
      'warn',
      'SSE outage skipped: the server is not in-process, so the demo cannot inject faults',
    );
    // The external server's own job time is unknown, so each job requests the demo's.
    return {
      url: options.url,
      server: undefined,
      createOptions: { durationMs: timings.jobTimeMs },
    };
  }

  const server = createMockServer({
    jobTimeMs: timings.jobTimeMs,
    retryMs: timings.serverRetryMs,
    // Any origin may call this loopback server, which lives only as long as the demo.
    corsOrigins: '*',
    logger: createServerLogger(display, options.verbose),
  });
  const { url } = await server.listen(0, '127.0.0.1');
  display.log('demo', 'info', 'Mock server started', { url, jobTimeMs: timings.jobTimeMs });
  return { url, server, createOptions: {} };
}

/** Creates the SDK client: SSE with fallback to polling, and every request counted. */
function createClient(
  url: string,
  timings: Timings,
  display: Display,
  requests: RequestCounter,
): HeyGenAPI {
  const api = new HeyGenAPI({
    url,
    mode: HeyGenStatusListenerMode.SSE,
    fallback: true,
    EventSource: requests.EventSource,
    fetch: requests.fetch,
    logging: createSdkLogger(display),
    pollInterval: timings.pollIntervalMs,
    sseRetry: timings.sseRetry,
  });
  display.log('demo', 'info', 'Client created', {
    mode: HeyGenStatusListenerMode.SSE,
    fallback: true,
    pollIntervalMs: timings.pollIntervalMs,
    sseRetryMaxDelayMs: timings.sseRetry.maxDelayMs,
  });
  return api;
}

/**
 * Returns the server's request counters with a label for the summary. An external server counts the
 * requests of all its clients, not only the demo's.
 */
async function readServerCounters(
  target: Target,
): Promise<{ label: string; counters: ServerCounters | string }> {
  if (target.server !== undefined) {
    return { label: 'requests counted by the server', counters: target.server.stats() };
  }
  return {
    label: 'requests counted by the server (all its clients)',
    counters: await fetchServerCounters(target.url),
  };
}

/** Reads the request counters of an external mock server, or returns why they are unavailable. */
async function fetchServerCounters(url: string): Promise<ServerCounters | string> {
  try {
    const response = await fetch(`${url}/__mock/stats`, {
      signal: AbortSignal.timeout(STATS_TIMEOUT_MS),
    });
    if (!response.ok) return `unavailable: GET /__mock/stats returned HTTP ${response.status}`;
    const body = (await response.json()) as {
      requests?: unknown;
      responses?: unknown;
      openStreams?: unknown;
    };
    if (!isCountMap(body.requests) || !isCountMap(body.responses)) {
      return 'unavailable: GET /__mock/stats returned no request counters';
    }
    const openStreams = typeof body.openStreams === 'number' ? body.openStreams : undefined;
    return { requests: body.requests, responses: body.responses, openStreams };
  } catch (error) {
    return `unavailable: GET /__mock/stats failed (${(error as Error).message})`;
  }
}

function isCountMap(value: unknown): value is Record<string, number> {
  return (
    typeof value === 'object' &&
    value !== null &&
    Object.values(value).every((count) => typeof count === 'number')
  );
}

main().then(
  (code) => {
    process.exitCode = code;
    const guard = setTimeout(() => {
      process.stderr.write(
        `Exiting: something kept the event loop alive ${EXIT_GRACE_MS} ms after cleanup.\n`,
      );
      process.exit(code);
    }, EXIT_GRACE_MS);
    guard.unref();
  },
  (error: unknown) => {
    process.stderr.write(`Demo crashed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = EXIT_FAILED;
  },
);
