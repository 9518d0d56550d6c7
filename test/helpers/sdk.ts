import { EventSource } from 'eventsource';
import type { Observable, Subscription } from 'rxjs';
import {
  createMockServer,
  type Job as ServerJob,
  type JobStatus,
  type MockServer,
  type MockServerOptions,
} from '../../mock-server';
import {
  type EventSourceConstructor,
  type FetchLike,
  HeyGenAPI,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  type Job,
} from '../../src';
import { waitFor, withTimeout } from './waitFor';

export { waitFor, withTimeout };

/** Time limit of the waits in this file, in ms: well below Jest's 20 s test timeout. */
const DEFAULT_WAIT_MS = 5000;

/** Settles with the rejection reason of `promise`, and fails when `promise` resolves instead. */
export async function rejectionOf(promise: Promise<unknown>, what: string): Promise<unknown> {
  return withTimeout(
    promise.then(
      (value) => {
        throw new Error(
          `Expected ${what} to reject, but it resolved with ${JSON.stringify(value)}`,
        );
      },
      (error: unknown) => error,
    ),
    `${what} to reject`,
  );
}

/** Everything an Observable sent to one subscriber. */
export interface Recording<T> {
  readonly values: T[];
  /** The error that ended the subscription, `undefined` while there is none. */
  error: unknown;
  completed: boolean;
  readonly subscription: Subscription;
  /** Resolves when the Observable completes or errors; it never rejects. */
  readonly finished: Promise<void>;
}

/** Subscribes to `source` and records what it sends. */
export function record<T>(source: Observable<T>): Recording<T> {
  let markFinished: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    markFinished = resolve;
  });
  const recording = { values: [] as T[], error: undefined as unknown, completed: false, finished };
  const subscription = source.subscribe({
    next: (value) => recording.values.push(value),
    error: (error: unknown) => {
      recording.error = error;
      markFinished();
    },
    complete: () => {
      recording.completed = true;
      markFinished();
    },
  });
  return Object.assign(recording, { subscription });
}

/** Waits until the recording has completed or errored. */
export async function finishOf<T>(
  recording: Recording<T>,
  what: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<Recording<T>> {
  await withTimeout(recording.finished, what, timeoutMs);
  return recording;
}

/** Compact form of a job state for readable assertions, such as `processing:25`. */
export function stateOf(job: Pick<Job, 'status' | 'progress'>): string {
  return `${job.status}:${job.progress}`;
}

const STATUS_RANK: Readonly<Record<JobStatus, number>> = {
  pending: 0,
  processing: 1,
  completed: 2,
  failed: 2,
};

/**
 * Returns the first pair of consecutive states in which the second is not newer than the first (a
 * repeated or backwards state), or `undefined` when every state moves forward.
 */
export function firstNonForwardStep(jobs: readonly Job[]): [string, string] | undefined {
  for (let index = 1; index < jobs.length; index += 1) {
    const previous = jobs[index - 1] as Job;
    const next = jobs[index] as Job;
    const rankChange = STATUS_RANK[next.status] - STATUS_RANK[previous.status];
    const forward = rankChange > 0 || (rankChange === 0 && next.progress > previous.progress);
    if (!forward) return [stateOf(previous), stateOf(next)];
  }
  return undefined;
}

/** One request seen by {@link CountingFetch}. */
export interface RecordedRequest {
  readonly method: string;
  /** Path and query, such as `/status?ids=a,b`. */
  readonly path: string;
  readonly startedAt: number;
  /** When the response or the failure arrived; `undefined` while the request is in flight. */
  endedAt: number | undefined;
}

/** Checks that a subscriber saw its job complete exactly once, and never saw a state move back. */
export function expectCompletedOnce(recording: Recording<Job>, label: string): void {
  expect({ label, error: recording.error }).toEqual({ label, error: undefined });
  expect({ label, completed: recording.completed }).toEqual({ label, completed: true });
  const completions = recording.values.filter((job) => job.status === 'completed');
  expect({ label, completions: completions.length }).toEqual({ label, completions: 1 });
  expect({ label, backwards: firstNonForwardStep(recording.values) }).toEqual({
    label,
    backwards: undefined,
  });
}

/**
 * A `fetch` for the SDK's `fetch` option that records every request and counts the requests in flight.
 */
export class CountingFetch {
  readonly requests: RecordedRequest[] = [];
  inFlight = 0;

  readonly fetch: FetchLike = async (input, init) => {
    const url = new URL(input);
    const request: RecordedRequest = {
      method: init?.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      startedAt: Date.now(),
      endedAt: undefined,
    };
    this.requests.push(request);
    this.inFlight += 1;
    try {
      return await fetch(input, init);
    } finally {
      this.inFlight -= 1;
      request.endedAt = Date.now();
    }
  };

  /** Batched status requests (`GET /status?ids=...`) so far. */
  batchRequests(): RecordedRequest[] {
    return this.requests.filter((request) => request.path.startsWith('/status?ids='));
  }
}

/** Highest number of the given requests in flight at the same moment. */
export function maxConcurrent(requests: readonly RecordedRequest[]): number {
  // Sweep over start (+1) and end (-1) times. At equal times the end goes first, because a request
  // that starts the moment another ended does not overlap it.
  const changes = requests.flatMap((request) => [
    { at: request.startedAt, delta: 1 },
    { at: request.endedAt ?? Infinity, delta: -1 },
  ]);
  changes.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let current = 0;
  let max = 0;
  for (const change of changes) {
    current += change.delta;
    max = Math.max(max, current);
  }
  return max;
}

/** Job ids that a batched status request asked for. */
export function idsOf(request: RecordedRequest): string[] {
  const ids = new URL(request.path, 'http://localhost').searchParams.get('ids') ?? '';
  return ids.split(',').filter((id) => id !== '');
}

/**
 * An EventSource constructor (the `eventsource` package, v4) that keeps every instance it creates,
 * so a test can count connection attempts and read their `readyState`.
 */
export function trackedEventSource(): {
  EventSource: EventSourceConstructor;
  instances: EventSource[];
} {
  const instances: EventSource[] = [];
  class TrackedEventSource extends EventSource {
    constructor(url: string) {
      super(url);
      instances.push(this);
    }
  }
  return { EventSource: TrackedEventSource, instances };
}

/** A mock server listening on 127.0.0.1 and a free port. */
export interface RunningServer {
  readonly server: MockServer;
  readonly url: string;
}

/**
 * Starts servers and clients for one test and shuts them down after it, so that no test leaves an
 * open handle behind. Call {@link useResources} once per test file.
 */
export class TestResources {
  private cleanups: Array<() => void | Promise<void>> = [];

  /**
   * Starts a mock server on 127.0.0.1, port 0. `retryMs` defaults to 50 so that an EventSource
   * reconnects quickly after a dropped stream.
   */
  async startServer(options: MockServerOptions = {}): Promise<RunningServer> {
    const server = createMockServer({ retryMs: 50, ...options });
    this.cleanups.push(() => server.close());
    const { url } = await server.listen(0, '127.0.0.1');
    return { server, url };
  }

  /** Creates a client that is disposed after the test. */
  createClient(options: HeyGenAPIOptions): HeyGenAPI {
    const client = new HeyGenAPI(options);
    this.cleanups.push(() => client.dispose());
    return client;
  }

  /** Runs `cleanup` after the test, before the clients and servers created earlier are closed. */
  defer(cleanup: () => void | Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  /** Runs every cleanup, newest first. */
  async closeAll(): Promise<void> {
    const cleanups = this.cleanups.reverse();
    this.cleanups = [];
    for (const cleanup of cleanups) await cleanup();
  }
}

/** Returns a {@link TestResources} that closes everything it created after each test of the file. */
export function useResources(): TestResources {
  const resources = new TestResources();
  afterEach(() => resources.closeAll());
  return resources;
}

/** Waits until the server's copy of the job has the status. */
export async function waitForServerStatus(
  server: MockServer,
  clientId: string,
  jobId: string,
  status: JobStatus,
): Promise<ServerJob> {
  await waitFor(
    `job ${jobId} to be ${status} on the server`,
    () => server.store.get(clientId, jobId)?.status === status,
  );
  return server.store.get(clientId, jobId) as ServerJob;
}

/**
 * Records every state the server gives each job from now on, by job id, in order. The store emits each
 * change synchronously, so no state is missed.
 */
export function recordServerStates(
  server: MockServer,
  resources: TestResources,
): Map<string, string[]> {
  const statesById = new Map<string, string[]>();
  const onChange = (_clientId: string, job: ServerJob): void => {
    const states = statesById.get(job.id) ?? [];
    states.push(stateOf(job));
    statesById.set(job.id, states);
  };
  server.store.on('change', onChange);
  resources.defer(() => {
    server.store.off('change', onChange);
  });
  return statesById;
}

/** A client that polls at a fixed interval, so that a test can wait for time in poll intervals. */
export interface PollClock {
  /** Waits until the clock client has sent `count` more polls. */
  waitForPolls(count: number): Promise<void>;
}

/**
 * Starts a second client that polls a long job on the server every `intervalMs`. A test that must show
 * that nothing happens (no more polls, no reconnection) waits for polls of this clock instead of a
 * fixed sleep, so the wait names what it waited for and stretches on a slow machine.
 */
export async function startPollClock(
  resources: TestResources,
  url: string,
  intervalMs: number,
): Promise<PollClock> {
  const counting = new CountingFetch();
  const clock = resources.createClient({
    url,
    mode: HeyGenStatusListenerMode.POLL,
    pollInterval: intervalMs,
    fetch: counting.fetch,
  });
  // The job outlives every test; the server clears its timers on close.
  const jobId = await clock.createJob({ durationMs: 3_600_000 });
  record(clock.jobStatus$(jobId));
  return {
    waitForPolls: async (count) => {
      const target = counting.batchRequests().length + count;
      await waitFor(
        `${count} polls of the clock client`,
        () => counting.batchRequests().length >= target,
      );
    },
  };
}
