import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { EventSource } from 'eventsource';
import {
  type EventSourceConstructor,
  HeyGenAPI,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  type Job,
} from '../src';

/** Wall-clock time in ms with sub-millisecond resolution. */
export type Clock = () => number;

/**
 * Returns a wall clock with sub-millisecond resolution: `performance.now()` shifted onto `Date.now()`.
 *
 * The offset is taken right after `Date.now()` ticks over to a new millisecond, so it is exact to a few
 * microseconds. The two clocks can drift apart when NTP slews the wall clock, so each run calibrates
 * anew. The server stamps `updatedAt` with `Date.now()` of the same machine, so the two compare.
 */
export function calibrateClock(): Clock {
  const start = Date.now();
  let tick = Date.now();
  while (tick === start) tick = Date.now();
  const offset = tick - performance.now();
  return () => offset + performance.now();
}

/** Server time of a job's latest change, in ms since the epoch (1 ms resolution). */
export function changedAtMs(job: Job): number {
  return Date.parse(job.updatedAt);
}

export function isTerminalJob(job: Job): boolean {
  return job.status === 'completed' || job.status === 'failed';
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Splits `count` items into at most `slots` groups of near-equal size, and runs `action` on each
 * group's index range `[start, end)` at evenly spaced times over `spreadMs`, one group after the
 * other. The first group waits a random part of one spacing, so that the groups' phase against any
 * periodic work (such as a poll loop) differs from run to run. `spreadMs` 0 runs one group with every
 * item at once.
 */
export async function spreadOver(
  count: number,
  slots: number,
  spreadMs: number,
  action: (start: number, end: number) => Promise<void>,
): Promise<void> {
  const groups = spreadMs === 0 ? 1 : Math.min(count, slots);
  const startAt = Date.now() + (Math.random() * spreadMs) / groups;
  let start = 0;
  for (let group = 0; group < groups; group += 1) {
    const end = start + Math.floor(count / groups) + (group < count % groups ? 1 : 0);
    const delayMs = startAt + (group * spreadMs) / groups - Date.now();
    if (delayMs > 0) await sleep(delayMs);
    await action(start, end);
    start = end;
  }
}

/**
 * Polls `condition` every `intervalMs` until it holds.
 * @throws Error naming `description` when it does not hold within `timeoutMs`.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  description: string,
  timeoutMs: number,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`);
    await sleep(intervalMs);
  }
}

/** Resolves with the value of `promise`, or rejects naming `description` after `timeoutMs`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  description: string,
  timeoutMs: number,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Returns a client id unique to this process, readable in server logs. */
export function newClientId(label: string): string {
  return `bench-${label}-${randomUUID()}`;
}

/** Number of `status` events that every EventSource made by one {@link countingEventSource} received. */
export interface EventCounter {
  statusEvents: number;
}

/**
 * Returns an EventSource class (the `eventsource` package, v4) that counts each `status` event it
 * receives in `counter`.
 */
export function countingEventSource(counter: EventCounter): EventSourceConstructor {
  return class CountingEventSource extends EventSource {
    constructor(url: string) {
      super(url);
      this.addEventListener('status', () => {
        counter.statusEvents += 1;
      });
    }
  };
}

/** Creates an SDK client for the bench: the `eventsource` package, and no logging. */
export function createClient(
  url: string,
  mode: HeyGenStatusListenerMode.SSE | HeyGenStatusListenerMode.POLL,
  options: Partial<HeyGenAPIOptions> = {},
): HeyGenAPI {
  return new HeyGenAPI({
    url,
    mode,
    EventSource: EventSource as EventSourceConstructor,
    ...options,
  });
}

export { HeyGenStatusListenerMode };

/**
 * Runs a full garbage collection and returns the heap in use, in bytes.
 * @throws Error when the process runs without `--expose-gc`.
 */
export function heapUsedAfterGc(): number {
  if (globalThis.gc === undefined) {
    throw new Error(
      'global.gc is missing: run the bench with node --expose-gc (npm run bench does)',
    );
  }
  globalThis.gc();
  globalThis.gc();
  return process.memoryUsage().heapUsed;
}

/** User plus system CPU time of this process, in microseconds. */
export function cpuTimeUs(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
