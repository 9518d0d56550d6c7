import { Observable, type Subscriber, type TeardownLogic } from 'rxjs';
import { AuthError, type MessageParseError, SSEError } from '../errors';
import { backoffDelay } from '../internal/backoff';
import { parseJob } from '../internal/job';
import type {
  EventSourceConstructor,
  EventSourceLike,
  EventSourceMessage,
  Job,
  Logger,
  SseRetryOptions,
} from '../types';

/** Event that the SSE connection reports to the client. */
export type SseEvent =
  /** The stream opened; `reconnect` is true for every opening after the first. */
  | { readonly kind: 'open'; readonly reconnect: boolean }
  | { readonly kind: 'job'; readonly job: Job }
  /** A connection attempt failed or the stream stalled; the connection retries after a backoff. */
  | { readonly kind: 'down'; readonly error: SSEError };

/** Dependencies of {@link sseConnection}. */
export interface SseConfig {
  readonly baseUrl: string;
  readonly clientId: string;
  readonly EventSource: EventSourceConstructor;
  readonly retry: Required<SseRetryOptions>;
  /** Time a new EventSource may take to open, in ms, before the attempt counts as failed. */
  readonly connectTimeoutMs: number;
  /**
   * Keep reconnecting after `retry.maxAttempts` failures, at the maximum delay, instead of erroring.
   * The client sets it when it can serve status by polling meanwhile.
   */
  readonly keepProbing: boolean;
  readonly logger: Logger;
  /** Receives each message that is not a valid job, to log and report it. The stream goes on. */
  readonly onParseError: (error: MessageParseError) => void;
}

/** `EventSource.readyState` values from the HTML standard. */
const CONNECTING = 0;

/**
 * Opens one event stream for every job of the client, and keeps it open while subscribed.
 *
 * Errors only with an {@link AuthError} (HTTP 401 or 403, when the EventSource implementation reports
 * the status), or with an {@link SSEError} after `retry.maxAttempts` failed attempts in a row or a
 * stalled stream, unless `keepProbing` is set. Unsubscribing closes the stream and clears every timer.
 */
export function sseConnection(config: SseConfig): Observable<SseEvent> {
  return new Observable<SseEvent>((subscriber) => new SseSession(config, subscriber).start());
}

class SseSession {
  #source: EventSourceLike | undefined;
  /** `Date.now()` when the current source last opened; `undefined` until it opens after an error. */
  #openedAt: number | undefined;
  #everOpened = false;
  /**
   * Failed connection attempts in a row. A stream that delivers an event, or stays open for
   * `minDelayMs`, resets it to 0. An opening alone does not, so a server that accepts and at once
   * closes each stream still meets longer delays and, without `keepProbing`, an error.
   */
  #failures = 0;
  #lastEventId: string | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #reconnectGuardTimer: ReturnType<typeof setTimeout> | undefined;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** `Date.now()` of the latest open, event or heartbeat, read by the stall check. */
  #lastActivityAt = 0;
  /** URL without the client id, safe for logs and error messages. */
  readonly #publicUrl: string;

  readonly #config: SseConfig;
  readonly #subscriber: Subscriber<SseEvent>;

  constructor(config: SseConfig, subscriber: Subscriber<SseEvent>) {
    this.#config = config;
    this.#subscriber = subscriber;
    this.#publicUrl = `${config.baseUrl}/status`;
  }

  start(): TeardownLogic {
    this.#connect();
    return () => this.#stop();
  }

  #connect(): void {
    this.#reconnectTimer = undefined;
    let source: EventSourceLike;
    try {
      source = new this.#config.EventSource(this.#streamUrl());
    } catch (error) {
      this.#fail(
        new SSEError(`Could not create an EventSource for ${this.#publicUrl}`, this.#publicUrl, {
          cause: error,
        }),
      );
      return;
    }
    this.#source = source;
    this.#openedAt = undefined;
    source.onopen = () => this.#handleOpen(source);
    source.onerror = (event) => this.#handleError(source, event);
    source.addEventListener('status', this.#handleStatus);
    source.addEventListener('heartbeat', this.#handleHeartbeat);
    // An EventSource has no time limit of its own, so a server that accepts the connection and never
    // responds would leave it connecting forever.
    const { connectTimeoutMs } = this.#config;
    this.#connectTimer = setTimeout(
      () => this.#fail(this.#sseError(`no response within ${connectTimeoutMs} ms`)),
      connectTimeoutMs,
    );
  }

  /**
   * Builds the stream URL. The client id travels in the query because a browser's EventSource cannot
   * set headers. A new EventSource cannot send `Last-Event-ID` either, so the last id seen travels as
   * the `lastEventId` query parameter. The server prefers the header when the EventSource's own
   * reconnection sends one.
   */
  #streamUrl(): string {
    let url = `${this.#publicUrl}?uuid=${encodeURIComponent(this.#config.clientId)}`;
    if (this.#lastEventId !== undefined)
      url += `&lastEventId=${encodeURIComponent(this.#lastEventId)}`;
    return url;
  }

  #handleOpen(source: EventSourceLike): void {
    if (source !== this.#source) return;
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#reconnectGuardTimer);
    this.#openedAt = Date.now();
    this.#armStallTimer();
    this.#config.logger.info('SSE stream opened', {
      url: this.#publicUrl,
      reconnect: this.#everOpened,
    });
    this.#subscriber.next({ kind: 'open', reconnect: this.#everOpened });
    this.#everOpened = true;
  }

  readonly #handleStatus = (message: EventSourceMessage): void => {
    this.#failures = 0;
    this.#armStallTimer();
    if (message.lastEventId !== '') this.#lastEventId = message.lastEventId;
    let job: Job;
    try {
      job = parseJob(message.data);
    } catch (error) {
      this.#config.onParseError(error as MessageParseError);
      return;
    }
    this.#subscriber.next({ kind: 'job', job });
  };

  readonly #handleHeartbeat = (): void => {
    this.#failures = 0;
    this.#armStallTimer();
  };

  #handleError(source: EventSourceLike, event: Event): void {
    if (source !== this.#source) return;
    this.#clearStallTimer();
    clearTimeout(this.#connectTimer);
    const { code: status, message } = event as { code?: unknown; message?: unknown };

    // The HTML standard gives no status code to the error event; the `eventsource` package adds one.
    // Retrying cannot fix a rejected client id, so it ends the connection.
    if (status === 401 || status === 403) {
      this.#closeSource();
      const detail = 'the server rejected the client id of the event stream';
      this.#subscriber.error(new AuthError(`GET ${this.#publicUrl}`, status, detail));
      return;
    }

    // Standard reconnection: after a drop the EventSource retries by itself, after the server's
    // `retry:` delay and with the `Last-Event-ID` header. Deviations from the standard keep that
    // delay within [minDelayMs, maxDelayMs]:
    // - The EventSource may reconnect by itself only when the dropped stream was open for at least
    //   `minDelayMs`, so two connection attempts never come closer together than that. A `retry:` of
    //   0, or one above 2^31 - 1 ms that Node's setTimeout turns into 1 ms, would otherwise let a
    //   server that closes each stream at once cause a tight reconnection loop.
    // - A guard timer takes over when the EventSource has not reopened within `maxDelayMs`, so a
    //   huge `retry:` value cannot stall the client.
    const openedAt = this.#openedAt;
    this.#openedAt = undefined;
    if (openedAt !== undefined && source.readyState === CONNECTING) {
      const openMs = Date.now() - openedAt;
      if (openMs >= this.#config.retry.minDelayMs) {
        this.#failures = 0;
        this.#config.logger.warn('SSE stream dropped; the EventSource is reconnecting', {
          url: this.#publicUrl,
          lastEventId: this.#lastEventId,
        });
        this.#reconnectGuardTimer = setTimeout(
          () => this.#fail(this.#sseError('the EventSource did not reconnect in time')),
          this.#config.retry.maxDelayMs,
        );
        return;
      }
      // The server responded, so the drop is no outage. The client reconnects without reporting
      // `down`, which would move subscribers to polling for a drop that the next attempt fixes.
      this.#fail(this.#sseError(`the stream closed ${openMs} ms after it opened`), false);
      return;
    }

    // The EventSource gave up (a non-200 response, a wrong content type), or its reconnection failed
    // too. From here the client reconnects with its own backoff.
    let reason = typeof status === 'number' ? `HTTP ${status}` : 'connection failed';
    if (typeof message === 'string' && message !== '') reason += `: ${message}`;
    this.#fail(this.#sseError(reason));
  }

  /**
   * Counts a failed attempt, reports it as `down` unless `reportDown` is false, and schedules the next
   * attempt or gives up.
   */
  #fail(error: SSEError, reportDown = true): void {
    this.#closeSource();
    this.#failures += 1;
    if (reportDown) this.#subscriber.next({ kind: 'down', error });
    // A subscriber may have left while it handled `down`, and a timer scheduled then would leak.
    if (this.#subscriber.closed) return;
    const { maxAttempts } = this.#config.retry;
    if (this.#failures >= maxAttempts && !this.#config.keepProbing) {
      this.#config.logger.error('SSE failed; giving up', { attempts: this.#failures, error });
      this.#subscriber.error(error);
      return;
    }
    const delayMs = backoffDelay(this.#failures, this.#config.retry);
    // The timer comes before the log record, so that a logger that unsubscribes clears it.
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
    this.#config.logger.warn('SSE connection failed; retrying', {
      attempt: this.#failures,
      delayMs,
      error,
    });
  }

  #sseError(reason: string): SSEError {
    return new SSEError(`SSE stream ${this.#publicUrl}: ${reason}`, this.#publicUrl);
  }

  /** Records activity for the stall check: any event, heartbeat included, proves the stream is alive. */
  #armStallTimer(): void {
    // Events can arrive thousands of times a second, so each one only records the time. The one
    // running timer checks that time when it fires, and waits again for the rest of the period.
    this.#lastActivityAt = Date.now();
    const { stallTimeoutMs } = this.#config.retry;
    if (stallTimeoutMs <= 0 || this.#stallTimer !== undefined) return;
    this.#scheduleStallCheck(stallTimeoutMs);
  }

  #scheduleStallCheck(delayMs: number): void {
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      const remainingMs = this.#lastActivityAt + this.#config.retry.stallTimeoutMs - Date.now();
      if (remainingMs > 0) this.#scheduleStallCheck(remainingMs);
      else this.#handleStall();
    }, delayMs);
  }

  #clearStallTimer(): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
  }

  #handleStall(): void {
    const error = this.#sseError(
      `no event or heartbeat for ${this.#config.retry.stallTimeoutMs} ms; the stream counts as broken`,
    );
    if (!this.#config.keepProbing) {
      this.#closeSource();
      this.#config.logger.error('SSE stream stalled', { error });
      this.#subscriber.error(error);
      return;
    }
    this.#fail(error);
  }

  #closeSource(): void {
    clearTimeout(this.#connectTimer);
    clearTimeout(this.#reconnectGuardTimer);
    this.#clearStallTimer();
    const source = this.#source;
    if (source === undefined) return;
    this.#source = undefined;
    source.onopen = null;
    source.onerror = null;
    source.removeEventListener('status', this.#handleStatus);
    source.removeEventListener('heartbeat', this.#handleHeartbeat);
    source.close();
    // The `eventsource` package (v4) fires `error` before it arms its own reconnection timer, and
    // `close()` clears that timer only when it exists. A close from inside the error handler would
    // leave the timer (the server's `retry:` delay, 3 s by default) keeping the process alive, so
    // close again once the handler has returned.
    queueMicrotask(() => source.close());
  }

  #stop(): void {
    clearTimeout(this.#reconnectTimer);
    this.#closeSource();
  }
}
