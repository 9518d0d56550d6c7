import { EventSource } from 'eventsource';
import {
  type EventSourceConstructor,
  type EventSourceLike,
  type EventSourceMessage,
  type HeyGenAPI,
  HeyGenStatusListenerMode,
  type Logger,
} from '../../../src';
import { record, type TestResources, waitFor } from '../../helpers/sdk';
import { makeJob, type ScenarioServer } from './scenario-server';

/** One record that {@link RecordingLogger} received. */
export interface LogRecord {
  readonly level: keyof Logger;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/** A logger for the SDK's `logging` option that keeps every record. */
export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];

  debug(message: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'debug', message, fields });
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'info', message, fields });
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'warn', message, fields });
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.records.push({ level: 'error', message, fields });
  }

  /** Records of one level, in order. */
  at(level: keyof Logger): LogRecord[] {
    return this.records.filter((entry) => entry.level === level);
  }
}

/** Collects what `heygen.errors$` emits. */
export function recordErrors(heygen: HeyGenAPI): Error[] {
  const errors: Error[] = [];
  heygen.errors$.subscribe((error) => errors.push(error));
  return errors;
}

/** Gaps in ms between consecutive times. */
export function gapsOf(times: readonly number[]): number[] {
  return times.slice(1).map((time, index) => time - (times[index] as number));
}

/**
 * An EventSource constructor that behaves like a browser's native one: its error events carry no
 * HTTP status code. It wraps the `eventsource` package and forwards plain `Event`s on error.
 */
export function codelessEventSource(): EventSourceConstructor {
  return class CodelessEventSource implements EventSourceLike {
    private readonly inner: EventSource;
    onopen: ((event: Event) => unknown) | null = null;
    onerror: ((event: Event) => unknown) | null = null;

    constructor(url: string) {
      this.inner = new EventSource(url);
      this.inner.onopen = (event) => this.onopen?.(event);
      this.inner.onerror = () => this.onerror?.(new Event('error'));
    }

    get readyState(): number {
      return this.inner.readyState;
    }

    addEventListener(type: string, listener: (event: EventSourceMessage) => void): void {
      this.inner.addEventListener(type, listener);
    }

    removeEventListener(type: string, listener: (event: EventSourceMessage) => void): void {
      this.inner.removeEventListener(type, listener);
    }

    close(): void {
      this.inner.close();
    }
  };
}

/** A client that polls a scenario at a fixed interval, to wait for time in poll intervals. */
export interface ScenarioClock {
  /** Waits until the clock client has sent `count` more polls. */
  waitForPolls(count: number): Promise<void>;
}

/**
 * Starts a POLL client on its own scenario, watching a job that never ends. A test that must show
 * that nothing more happens (no more requests, no reconnection) waits for polls of this clock rather
 * than for a fixed time, so that the wait names what passed and stretches with a slow machine.
 */
export function startScenarioClock(
  server: ScenarioServer,
  resources: TestResources,
  intervalMs: number,
): ScenarioClock {
  const scenario = server.add('clock', { jobs: [makeJob('clock-job', 'processing', 10)] });
  const clock = resources.createClient({
    url: scenario.url,
    mode: HeyGenStatusListenerMode.POLL,
    pollInterval: intervalMs,
  });
  record(clock.jobStatus$('clock-job'));
  return {
    waitForPolls: async (count) => {
      const target = scenario.batches().length + count;
      await waitFor(
        `${count} polls of the clock client`,
        () => scenario.batches().length >= target,
      );
    },
  };
}
