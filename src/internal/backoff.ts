/** Bounds of an exponential backoff, in ms. */
export interface BackoffRange {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * Returns the delay in ms before retry number `attempt` (1 for the first retry), from `minDelayMs` to
 * `maxDelayMs`.
 *
 * The ceiling doubles per attempt from twice `minDelayMs` up to `maxDelayMs`, and the delay is drawn
 * uniformly from the upper half of that ceiling ("equal jitter"), so that clients that failed together
 * do not retry together. The first retry therefore waits from `minDelayMs` to twice that, and no retry
 * comes sooner than `minDelayMs`.
 */
export function backoffDelay(
  attempt: number,
  range: BackoffRange,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempt, 1), 31);
  const ceiling = Math.min(range.maxDelayMs, range.minDelayMs * 2 ** exponent);
  const delay = ceiling / 2 + (random() * ceiling) / 2;
  return Math.round(Math.max(range.minDelayMs, delay));
}

/** Clamps a delay in ms into the range; a value that is not a finite number becomes the minimum. */
export function clampDelay(delayMs: number, range: BackoffRange): number {
  if (!Number.isFinite(delayMs)) return range.minDelayMs;
  return Math.min(range.maxDelayMs, Math.max(range.minDelayMs, delayMs));
}

/**
 * Parses an HTTP `Retry-After` value into a delay in ms: either delay-seconds or an HTTP date
 * (RFC 9110, section 10.2.3). Returns `undefined` for a missing or unreadable value.
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
