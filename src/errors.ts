import type { Job } from './types';

/** Base class of every error the SDK reports. `cause` keeps the underlying error when there is one. */
export class HeyGenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /**
   * Name of the error class, such as `'JobNotFoundError'`. Each class sets it as a literal, because
   * minifiers rename classes and `constructor.name` would change.
   */
  override name = 'HeyGenError';
}

/** An option or argument passed to the SDK is invalid. The message names the value and the rule. */
export class InvalidArgumentError extends HeyGenError {
  override name = 'InvalidArgumentError';

  constructor(
    /** Name of the option or argument, such as `options.pollInterval` or `jobId`. */
    readonly argument: string,
    /** The rejected value. */
    readonly value: unknown,
    rule: string,
  ) {
    super(`Invalid ${argument}: ${describe(value)}. ${rule}`);
  }
}

/** The SSE transport failed and no fallback is configured, or the stream could not be used at all. */
export class SSEError extends HeyGenError {
  override name = 'SSEError';

  constructor(
    message: string,
    /** URL of the event stream, without the client id. */
    readonly url: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The job does not exist on the server, or belongs to another client (the server does not say which). */
export class JobNotFoundError extends HeyGenError {
  override name = 'JobNotFoundError';

  constructor(
    /** Id of the job that was not found. */
    readonly jobId: string,
  ) {
    super(
      `Job ${jobId} was not found: it does not exist, has expired or belongs to another client`,
    );
  }
}

/** The job ended with the status `failed`. */
export class JobFailedError extends HeyGenError {
  override name = 'JobFailedError';

  constructor(
    /** The final state of the job. */
    readonly job: Job,
  ) {
    super(`Job ${job.id} failed: ${job.error ?? 'no reason given'}`);
  }
}

/** A server message could not be read as a job. The message is skipped; other jobs keep running. */
export class MessageParseError extends HeyGenError {
  override name = 'MessageParseError';

  constructor(
    reason: string,
    /** The raw message, cut to 200 characters. */
    readonly data: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not parse a server message (${reason}): ${truncate(data, 200)}`, options);
    this.data = truncate(data, 200);
  }
}

/** `stop(jobId)` was called for a job that has no active listener. */
export class ListenerNotFoundError extends HeyGenError {
  override name = 'ListenerNotFoundError';

  constructor(
    /** Id of the job passed to `stop`. */
    readonly jobId: string,
  ) {
    super(`No listener for job ${jobId}: call listen(${JSON.stringify(jobId)}, callback) first`);
  }
}

/** An HTTP request got an unexpected status code. */
export class HttpError extends HeyGenError {
  override name = 'HttpError';

  constructor(
    /** Method and path, such as `GET /status?ids=...`, without the client id. */
    readonly request: string,
    /** HTTP status code. */
    readonly status: number,
    /** The server's `error` message when the body was JSON, otherwise a short excerpt. */
    readonly detail: string,
    /** Delay the server asked for with `Retry-After`, in ms, when it sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(`${request} failed with HTTP ${status}: ${detail}`);
  }
}

/** A request failed before any HTTP response arrived: refused or reset connection, DNS failure. */
export class NetworkError extends HeyGenError {
  override name = 'NetworkError';

  constructor(
    /** Method and path of the request, without the client id. */
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    super(`${request} failed before a response arrived: ${causeMessage(options?.cause)}`, options);
  }
}

/** The server rejected the client id (HTTP 401 or 403). Retrying does not help. */
export class AuthError extends HttpError {
  override name = 'AuthError';
}

/** The operation took longer than its time limit. */
export class TimeoutError extends HeyGenError {
  override name = 'TimeoutError';

  constructor(
    operation: string,
    /** The time limit in ms. */
    readonly timeoutMs: number,
  ) {
    super(`${operation} timed out after ${timeoutMs} ms`);
  }
}

/** The caller aborted the operation through its `AbortSignal`. */
export class AbortError extends HeyGenError {
  override name = 'AbortError';

  constructor(operation: string, options?: { cause?: unknown }) {
    super(`${operation} was aborted`, options);
  }
}

/** The `HeyGenAPI` instance was disposed: a method was called after `dispose()`, or a watch was cut short. */
export class DisposedError extends HeyGenError {
  override name = 'DisposedError';

  constructor(operation: string) {
    super(`${operation}: the HeyGenAPI instance was disposed; create a new instance to continue`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  // JSON.stringify writes NaN and Infinity as null, which would hide the actual value.
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  try {
    return String(JSON.stringify(value) ?? value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function causeMessage(cause: unknown): string {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    return inner instanceof Error ? `${cause.message} (${inner.message})` : cause.message;
  }
  return String(cause);
}
