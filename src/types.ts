import type { SchedulerLike } from 'rxjs';

/** Lifecycle state of a job. `completed` and `failed` are terminal. */
export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed';

/** A job as the server reports it. */
export interface Job {
  /** Id the server assigned at creation: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
  readonly id: string;
  /** Current lifecycle state. */
  readonly status: JobStatus;
  /** Integer percentage from 0 to 100; never decreases. */
  readonly progress: number;
  /** ISO-8601 creation time. */
  readonly createdAt: string;
  /** ISO-8601 time of the latest status or progress change. */
  readonly updatedAt: string;
  /** Reason of the failure, present only when `status` is `failed`. */
  readonly error?: string;
}

/**
 * Transport that feeds job status.
 *
 * The values are strings so that they read well in logs and match the original library.
 */
export enum HeyGenStatusListenerMode {
  /** SSE when an `EventSource` constructor is available, otherwise POLL. */
  AUTO = 'AUTO',
  /** One Server-Sent-Events connection for every job of the client. */
  SSE = 'SSE',
  /** One batched status request per poll interval for every watched job. */
  POLL = 'POLL',
}

/** The transport that is active right now: AUTO always resolves to one of these. */
export type ActiveTransport = HeyGenStatusListenerMode.SSE | HeyGenStatusListenerMode.POLL;

/** Callback of {@link HeyGenAPI.listen}: the job id and status first, the full job after. */
export type StatusCallback = (jobId: string, status: JobStatus, job: Job) => void;

/** Callback of {@link HeyGenAPI.listen} for an error that ends the listener. */
export type ErrorCallback = (jobId: string, error: Error) => void;

/** Logger the SDK writes to when logging is on. Each method gets a message and optional fields. */
export interface Logger {
  /** Receives detail that helps only while debugging. */
  debug(message: string, fields?: Record<string, unknown>): void;
  /** Receives lifecycle records: a stream that opens, a transport change, disposal. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Receives failures that the SDK retries or works around. */
  warn(message: string, fields?: Record<string, unknown>): void;
  /**
   * Receives failures that end a subscription, skipped server messages and exceptions thrown by
   * callbacks.
   */
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Minimal `MessageEvent` shape the SDK reads from an EventSource. */
export interface EventSourceMessage {
  /** The event's `data` field: one job as JSON for `status` events. */
  readonly data: string;
  /** The event's `id` field, or the last id the stream sent. Empty when the stream sent none. */
  readonly lastEventId: string;
}

/**
 * Structural type of the standard `EventSource` that the SDK relies on.
 *
 * The browser's native class and the `eventsource` npm package (v4) both match it.
 */
export interface EventSourceLike {
  /** `0` connecting, `1` open, `2` closed, as in the HTML standard. */
  readonly readyState: number;
  /** Handler called when the stream opens or reopens. */
  onopen: ((event: Event) => unknown) | null;
  /** Handler called when the connection fails or drops. */
  onerror: ((event: Event) => unknown) | null;
  /** Registers a handler for the events of one type, such as `status` or `heartbeat`. */
  addEventListener(type: string, listener: (event: EventSourceMessage) => void): void;
  /** Removes a handler registered with `addEventListener`. */
  removeEventListener(type: string, listener: (event: EventSourceMessage) => void): void;
  /** Closes the connection, after which the source does not reconnect. */
  close(): void;
}

/** Constructor of an {@link EventSourceLike}. */
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** The subset of `fetch` the SDK calls. */
export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** Backoff between SSE reconnection attempts. */
export interface SseRetryOptions {
  /**
   * Lower bound of the exponential backoff between reconnection attempts, in ms: two attempts never
   * come closer together than this.
   *
   * Note: after a stream that was open for at least this long drops, the EventSource reconnects by
   * itself after the server's `retry:` delay, as the HTML standard describes. A stream that closes
   * sooner is reconnected with the client's backoff instead, whatever the value of `retry:`.
   * @default 250
   */
  minDelayMs?: number;
  /**
   * Upper bound of the exponential backoff, in ms. When the EventSource has not reconnected by itself
   * within this time (a `retry:` above it, say), the client closes it and reconnects with its backoff.
   * @default 5000
   */
  maxDelayMs?: number;
  /**
   * Failed attempts in a row after which the client gives up on SSE: with `fallback: false` the
   * subscribers get an {@link SSEError}. With `fallback: true` the client keeps probing with the maximum
   * delay and serves status by polling meanwhile.
   * @default 5
   */
  maxAttempts?: number;
  /**
   * An open stream that receives no `status` and no `heartbeat` event for this long counts as broken, in
   * ms. Heartbeat comments do not count, because the EventSource API never exposes comments. `0` turns
   * stall detection off.
   * @default 45000 (three times the mock server's default heartbeat of 15 s)
   */
  stallTimeoutMs?: number;
}

/** Options of {@link HeyGenAPI}. */
export interface HeyGenAPIOptions {
  /** Base URL of the job API, such as `http://127.0.0.1:3000`. */
  url: string;
  /** Transport to use. AUTO is not the default so that the cost trade-off stays a conscious choice. */
  mode: HeyGenStatusListenerMode;
  /**
   * `true` logs transport changes, retries and errors to the console with timestamps; a {@link Logger}
   * receives the same records instead.
   * @default false
   */
  logging?: boolean | Logger;
  /**
   * Move every listener to polling when SSE breaks, and back to SSE once a probe connection opens.
   * Without it, an SSE failure reaches subscribers as an {@link SSEError}.
   * @default false
   */
  fallback?: boolean;
  /**
   * Time between the end of one status request and the start of the next in POLL mode, in ms.
   * @default 1000
   */
  pollInterval?: number;
  /**
   * Opaque id that owns this client's jobs, sent with every request. Keep it (in `localStorage`, say) to
   * find the same jobs after a reload.
   * @default a random UUID
   */
  clientId?: string;
  /**
   * EventSource constructor for SSE. On Node.js 20, pass the `EventSource` class of the `eventsource`
   * package.
   * @default globalThis.EventSource
   */
  EventSource?: EventSourceConstructor;
  /**
   * `fetch` implementation for HTTP requests.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /** Reconnection and stall detection of the SSE transport. */
  sseRetry?: SseRetryOptions;
  /**
   * Scheduler that delivers every emission of {@link HeyGenAPI.jobStatus$}. Angular apps pass a
   * scheduler that re-enters their zone; tests pass a virtual-time scheduler.
   * @default undefined: emissions arrive synchronously from the transport
   */
  scheduler?: SchedulerLike;
  /**
   * Time limit of each HTTP request, in ms. It also limits how long a new SSE connection may take to
   * open: a slower attempt counts as failed.
   * @default 10000
   */
  requestTimeout?: number;
}

/** Options of {@link HeyGenAPI.createJob}, understood by the mock server. */
export interface CreateJobOptions {
  /** Total run time of this job on the mock server, in ms (1 to 3,600,000). */
  durationMs?: number;
  /** Terminal status the mock job ends with. */
  outcome?: 'completed' | 'failed';
  /** Cancels the request; the promise rejects with an error named `AbortError`. */
  signal?: AbortSignal;
}

/** Options of {@link HeyGenAPI.waitForJob}. */
export interface WaitForJobOptions {
  /** Cancels the wait; the promise rejects with an error named `AbortError`. */
  signal?: AbortSignal;
  /** Maximum wait in ms; the promise then rejects with a `TimeoutError`. */
  timeout?: number;
}
