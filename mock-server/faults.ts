import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { sendError } from './errors';
import { requestLog } from './logger';
import type { StreamHub } from './stream';

/** Active faults, as `GET /__mock/stats` and the fault routes report them. */
export interface FaultState {
  /** Remaining time in ms during which new streams get `503`, 0 when streams are accepted. */
  refuseStreamsMs: number;
  /** Delay in ms added before every API response, 0 when off. */
  latencyMs: number;
  /** Fraction from 0 to 1 of API requests that get `errorStatus`. */
  errorRate: number;
  /** Status code of the injected errors, from 500 to 599. */
  errorStatus: number;
}

/** Ranges that the fault methods and the `/__mock` routes accept. */
export const FAULT_RANGES = {
  maxRefuseMs: 3_600_000,
  maxLatencyMs: 60_000,
  minErrorStatus: 500,
  maxErrorStatus: 599,
} as const;

const DEFAULT_ERROR_STATUS = 503;

/**
 * Fault injection for testing clients: dropped and refused streams, latency and an error rate.
 * Latency and error rate apply to the API routes (`/create` and `/status...`, stream connects
 * included) through {@link middleware}, never to `/__mock`.
 */
export class Faults {
  readonly #hub: StreamHub;
  readonly #logger: Logger;
  #refuseStreamsUntil = 0;
  #latencyMs = 0;
  #errorRate = 0;
  #errorStatus = DEFAULT_ERROR_STATUS;
  /** Timers of requests held back by the latency fault. */
  readonly #delays = new Set<NodeJS.Timeout>();

  constructor(hub: StreamHub, logger: Logger) {
    this.#hub = hub;
    this.#logger = logger;
  }

  /** Number of latency timers pending. */
  get timerCount(): number {
    return this.#delays.size;
  }

  /** Ends every open event stream at once and returns how many were ended. */
  dropStreams(): number {
    const dropped = this.#hub.dropAll();
    this.#logger.warn({ fault: 'drop-streams', dropped }, 'fault injected: streams dropped');
    return dropped;
  }

  /**
   * Rejects new stream requests with `503` for `ms` milliseconds from now, and `0` accepts them
   * again at once. Open streams stay open. Throws a RangeError outside 0 to 3,600,000.
   */
  refuseStreams(ms: number): void {
    assertInteger('refuseStreams(ms)', ms, 0, FAULT_RANGES.maxRefuseMs);
    this.#refuseStreamsUntil = ms === 0 ? 0 : Date.now() + ms;
    this.#logger.warn(
      { fault: 'refuse-streams', durationMs: ms },
      'fault injected: streams refused',
    );
  }

  /** Delays every API response by `ms` milliseconds (0 to 60,000). `0` turns the delay off. */
  setLatency(ms: number): void {
    assertInteger('setLatency(ms)', ms, 0, FAULT_RANGES.maxLatencyMs);
    this.#latencyMs = ms;
    this.#logger.warn({ fault: 'latency', latencyMs: ms }, 'fault injected: latency');
  }

  /**
   * Responds to the fraction `rate` (0 to 1) of API requests with `status` (500 to 599, default
   * 503), a JSON error body and `Retry-After: 1`. A rate of `0` turns the fault off.
   */
  setErrorRate(rate: number, status: number = DEFAULT_ERROR_STATUS): void {
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1) {
      throw new RangeError(
        `Invalid setErrorRate(rate) ${String(rate)}: expected a number from 0 to 1`,
      );
    }
    assertInteger(
      'setErrorRate(rate, status)',
      status,
      FAULT_RANGES.minErrorStatus,
      FAULT_RANGES.maxErrorStatus,
    );
    this.#errorRate = rate;
    this.#errorStatus = status;
    this.#logger.warn({ fault: 'error-rate', rate, status }, 'fault injected: error rate');
  }

  /** Clears every fault. Requests already held back by latency still wait for their timer. */
  reset(): void {
    this.#refuseStreamsUntil = 0;
    this.#latencyMs = 0;
    this.#errorRate = 0;
    this.#errorStatus = DEFAULT_ERROR_STATUS;
    this.#logger.info('faults cleared');
  }

  state(): FaultState {
    return {
      refuseStreamsMs: this.streamRefusalMs(),
      latencyMs: this.#latencyMs,
      errorRate: this.#errorRate,
      errorStatus: this.#errorStatus,
    };
  }

  /** Returns the remaining time in ms during which new streams are refused, else 0. */
  streamRefusalMs(): number {
    return Math.max(0, this.#refuseStreamsUntil - Date.now());
  }

  /** Middleware for API routes that applies the latency fault, then the error-rate fault. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      const delayMs = this.#latencyMs;
      if (delayMs === 0) {
        this.#applyErrorRate(req, res, next);
        return;
      }

      const timer = setTimeout(() => {
        this.#delays.delete(timer);
        this.#applyErrorRate(req, res, next);
      }, delayMs);
      this.#delays.add(timer);
      res.once('close', () => {
        if (this.#delays.delete(timer)) {
          clearTimeout(timer);
        }
      });
    };
  }

  /** Clears the latency timers. The requests they held back get no response. */
  close(): void {
    for (const timer of this.#delays) {
      clearTimeout(timer);
    }
    this.#delays.clear();
  }

  #applyErrorRate(_req: Request, res: Response, next: NextFunction): void {
    if (this.#errorRate === 0 || Math.random() >= this.#errorRate) {
      next();
      return;
    }

    const status = this.#errorStatus;
    requestLog(res, this.#logger).warn(
      { fault: 'error-rate', status },
      'fault injected: error response',
    );
    sendError(
      res,
      status,
      `Injected error: the error-rate fault answers a fraction ${this.#errorRate} of API ` +
        `requests with ${status}. Retry after 1 second`,
      { 'Retry-After': '1' },
    );
  }
}

function assertInteger(name: string, value: number, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: expected an integer from ${min} to ${max}`,
    );
  }
}
