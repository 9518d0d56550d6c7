import type { SchedulerLike } from 'rxjs';
import { InvalidArgumentError } from '../errors';
import {
  type EventSourceConstructor,
  type FetchLike,
  type HeyGenAPIOptions,
  HeyGenStatusListenerMode,
  type Logger,
  type SseRetryOptions,
} from '../types';
import { createConsoleLogger, silentLogger } from './logger';

/** Options after defaults and validation. */
export interface Settings {
  /** Base URL without a trailing slash. */
  readonly baseUrl: string;
  readonly mode: HeyGenStatusListenerMode;
  readonly logger: Logger;
  readonly fallback: boolean;
  readonly pollIntervalMs: number;
  readonly clientId: string;
  /** `undefined` when neither the option nor a global EventSource exists. */
  readonly EventSource: EventSourceConstructor | undefined;
  readonly fetch: FetchLike;
  readonly sseRetry: Required<SseRetryOptions>;
  readonly scheduler: SchedulerLike | undefined;
  readonly requestTimeoutMs: number;
}

export const DEFAULT_POLL_INTERVAL_MS = 1000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_SSE_RETRY: Readonly<Required<SseRetryOptions>> = {
  minDelayMs: 250,
  maxDelayMs: 5000,
  // With the delays above, the 4 waits between 5 attempts take at most 0.5 + 1 + 2 + 4 = 7.5 s (see
  // backoffDelay): the client gives up within 10 s when each attempt fails fast.
  maxAttempts: 5,
  stallTimeoutMs: 45_000,
};

const MODES = Object.values(HeyGenStatusListenerMode) as string[];

const OPTION_NAMES: readonly (keyof HeyGenAPIOptions)[] = [
  'url',
  'mode',
  'logging',
  'fallback',
  'pollInterval',
  'clientId',
  'EventSource',
  'fetch',
  'sseRetry',
  'scheduler',
  'requestTimeout',
];

const SSE_RETRY_NAMES: readonly (keyof SseRetryOptions)[] = [
  'minDelayMs',
  'maxDelayMs',
  'maxAttempts',
  'stallTimeoutMs',
];
const CLIENT_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/**
 * Merges the options with their defaults and validates them, in one place.
 * @throws InvalidArgumentError naming the option, the value and the rule.
 */
export function normalizeOptions(options: HeyGenAPIOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('options', options, 'Pass an object such as { url, mode }.');
  }
  // A misspelt option would otherwise fall back to its default without a word.
  rejectUnknownKeys('options', options, OPTION_NAMES);
  if (options.sseRetry !== undefined) {
    if (typeof options.sseRetry !== 'object' || options.sseRetry === null) {
      throw new InvalidArgumentError(
        'options.sseRetry',
        options.sseRetry,
        'Pass an object such as { maxAttempts: 5 }.',
      );
    }
    rejectUnknownKeys('options.sseRetry', options.sseRetry, SSE_RETRY_NAMES);
  }
  const sseRetry = { ...DEFAULT_SSE_RETRY, ...withoutUndefined(options.sseRetry ?? {}) };
  const settings: Settings = {
    baseUrl: normalizeUrl(options.url),
    mode: normalizeMode(options.mode),
    logger: normalizeLogger(options.logging),
    fallback: normalizeBoolean('options.fallback', options.fallback, false),
    pollIntervalMs: normalizeNumber('options.pollInterval', options.pollInterval, {
      fallback: DEFAULT_POLL_INTERVAL_MS,
      min: 10,
      max: 3_600_000,
    }),
    clientId: normalizeClientId(options.clientId),
    EventSource: normalizeFunction('options.EventSource', options.EventSource, globalEventSource()),
    fetch: normalizeFetch(options.fetch),
    sseRetry: {
      minDelayMs: normalizeNumber('options.sseRetry.minDelayMs', sseRetry.minDelayMs, {
        min: 1,
        max: 600_000,
      }),
      maxDelayMs: normalizeNumber('options.sseRetry.maxDelayMs', sseRetry.maxDelayMs, {
        min: 1,
        max: 600_000,
      }),
      maxAttempts: normalizeNumber('options.sseRetry.maxAttempts', sseRetry.maxAttempts, {
        min: 1,
        max: 1000,
        integer: true,
      }),
      stallTimeoutMs: normalizeNumber('options.sseRetry.stallTimeoutMs', sseRetry.stallTimeoutMs, {
        min: 0,
        max: 3_600_000,
      }),
    },
    scheduler: normalizeScheduler(options.scheduler),
    requestTimeoutMs: normalizeNumber('options.requestTimeout', options.requestTimeout, {
      fallback: DEFAULT_REQUEST_TIMEOUT_MS,
      min: 1,
      max: 600_000,
    }),
  };
  if (settings.sseRetry.minDelayMs > settings.sseRetry.maxDelayMs) {
    throw new InvalidArgumentError(
      'options.sseRetry',
      options.sseRetry,
      'minDelayMs must not exceed maxDelayMs.',
    );
  }
  return settings;
}

/** Validates a mode passed to `changeBackend` or to the constructor. */
export function normalizeMode(mode: unknown, argument = 'options.mode'): HeyGenStatusListenerMode {
  if (typeof mode !== 'string' || !MODES.includes(mode)) {
    throw new InvalidArgumentError(
      argument,
      mode,
      'Use HeyGenStatusListenerMode.AUTO, HeyGenStatusListenerMode.SSE or HeyGenStatusListenerMode.POLL.',
    );
  }
  return mode as HeyGenStatusListenerMode;
}

/** Creates a random version 4 UUID, also outside secure contexts where `crypto.randomUUID` is missing. */
export function randomUuid(): string {
  const cryptoApi = globalThis.crypto;
  if (typeof cryptoApi?.randomUUID === 'function') return cryptoApi.randomUUID();
  const bytes = new Uint8Array(16);
  cryptoApi.getRandomValues(bytes);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function normalizeUrl(url: unknown): string {
  const rule = 'Pass the base URL of the job API, such as "http://127.0.0.1:3000".';
  if (typeof url !== 'string') throw new InvalidArgumentError('options.url', url, rule);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError('options.url', url, rule);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InvalidArgumentError('options.url', url, `Use http or https. ${rule}`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new InvalidArgumentError('options.url', url, `Remove the query and fragment. ${rule}`);
  }
  return parsed.href.replace(/\/+$/, '');
}

function normalizeLogger(logging: unknown): Logger {
  if (logging === undefined || logging === false) return silentLogger;
  if (logging === true) return createConsoleLogger();
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  if (
    typeof logging === 'object' &&
    logging !== null &&
    methods.every((method) => typeof (logging as Record<string, unknown>)[method] === 'function')
  ) {
    return logging as Logger;
  }
  throw new InvalidArgumentError(
    'options.logging',
    logging,
    'Pass true, false, or an object with debug, info, warn and error methods.',
  );
}

function normalizeBoolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    throw new InvalidArgumentError(name, value, 'Pass true or false.');
  return value;
}

interface NumberRule {
  fallback?: number;
  min: number;
  max: number;
  integer?: boolean;
}

function normalizeNumber(name: string, value: unknown, rule: NumberRule): number {
  if (value === undefined && rule.fallback !== undefined) return rule.fallback;
  const kind = rule.integer === true ? 'an integer' : 'a number';
  const valid =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (rule.integer !== true || Number.isInteger(value)) &&
    value >= rule.min &&
    value <= rule.max;
  if (!valid) {
    throw new InvalidArgumentError(name, value, `Pass ${kind} from ${rule.min} to ${rule.max}.`);
  }
  return value;
}

function normalizeClientId(clientId: unknown): string {
  if (clientId === undefined) return randomUuid();
  if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) {
    throw new InvalidArgumentError(
      'options.clientId',
      clientId,
      'Pass 1 to 128 characters of A-Z a-z 0-9 . _ ~ -, or leave it out to get a random UUID.',
    );
  }
  return clientId;
}

function normalizeFunction<T>(
  name: string,
  value: unknown,
  fallback: T | undefined,
): T | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') {
    throw new InvalidArgumentError(name, value, 'Pass a constructor or function, or leave it out.');
  }
  return value as T;
}

function normalizeFetch(value: unknown): FetchLike {
  const fetchImpl = normalizeFunction<FetchLike>(
    'options.fetch',
    value,
    typeof globalThis.fetch === 'function' ? globalThis.fetch.bind(globalThis) : undefined,
  );
  if (fetchImpl === undefined) {
    throw new InvalidArgumentError(
      'options.fetch',
      value,
      'No global fetch exists here: pass one.',
    );
  }
  return fetchImpl;
}

function normalizeScheduler(value: unknown): SchedulerLike | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof (value as SchedulerLike).schedule !== 'function'
  ) {
    throw new InvalidArgumentError(
      'options.scheduler',
      value,
      'Pass an RxJS scheduler such as asapScheduler.',
    );
  }
  return value as SchedulerLike;
}

function globalEventSource(): EventSourceConstructor | undefined {
  const candidate = (globalThis as { EventSource?: unknown }).EventSource;
  return typeof candidate === 'function' ? (candidate as EventSourceConstructor) : undefined;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}

/**
 * Throws for the first own key of `value` that is not in `known`.
 * @throws InvalidArgumentError naming the unknown key and listing the known ones.
 */
export function rejectUnknownKeys(name: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        `${name}.${key}`,
        (value as Record<string, unknown>)[key],
        `Unknown option: use one of ${known.join(', ')}.`,
      );
    }
  }
}
