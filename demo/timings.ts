import { FAULT_AT_JOB, JOB_COUNT } from './options';

/** Delays of the scenario in ms, all derived from the job time T (the JOB_TIME variable). */
export interface Timings {
  /** T: run time of each job. */
  readonly jobTimeMs: number;
  /** Pause between two job creations. */
  readonly creationGapMs: number;
  /** Duration of the stream refusal that follows the drop of every event stream. */
  readonly outageMs: number;
  /** The SDK's `pollInterval` while it polls. */
  readonly pollIntervalMs: number;
  /** The server's `retry:` suggestion, the delay before an EventSource reconnects by itself. */
  readonly serverRetryMs: number;
  /** The SDK's reconnection backoff while it probes SSE during the outage. */
  readonly sseRetry: { readonly minDelayMs: number; readonly maxDelayMs: number };
  /** Time limit of the whole scenario, from the first job creation. */
  readonly overallTimeoutMs: number;
}

/**
 * Derives the scenario's delays from the job time T.
 *
 * Job k (from 1) is created at (k - 1) * T/5 and finishes T later, so the last one finishes at
 * 9T/5. The outage starts when job 3 is created (2T/5) and lasts T. The client notices it one
 * server retry delay later (T/10, at most 1 s). It finds SSE back at most one maximum probe delay
 * (T/8, at most 5 s) after streams are accepted again, so by about 1.53T. The outage cannot be
 * longer, because the SDK closes its connections once no job is watched, and then no return to SSE
 * could be observed.
 *
 * @throws RangeError when SSE could not return before the last job ends, which the JOB_TIME range
 *   of the options module rules out.
 */
export function scenarioTimings(jobTimeMs: number): Timings {
  const creationGapMs = Math.round(jobTimeMs / JOB_COUNT);
  const outageMs = jobTimeMs;
  const maxProbeDelayMs = clamp(Math.round(jobTimeMs / 8), 100, 5000);
  const lastJobEndMs = (JOB_COUNT - 1) * creationGapMs + jobTimeMs;
  const sseBackByMs = (FAULT_AT_JOB - 1) * creationGapMs + outageMs + maxProbeDelayMs;
  if (sseBackByMs >= lastJobEndMs) {
    throw new RangeError(
      `Invalid scenario timing for JOB_TIME=${jobTimeMs}: SSE would return at ${sseBackByMs} ms, ` +
        `after the last job ends at ${lastJobEndMs} ms. Use a longer JOB_TIME.`,
    );
  }

  return {
    jobTimeMs,
    creationGapMs,
    outageMs,
    pollIntervalMs: clamp(Math.round(jobTimeMs / 10), 100, 1000),
    serverRetryMs: clamp(Math.round(jobTimeMs / 10), 100, 1000),
    sseRetry: {
      minDelayMs: clamp(Math.round(jobTimeMs / 20), 50, 250),
      maxDelayMs: maxProbeDelayMs,
    },
    // Twice the planned schedule (9T/5) plus a margin for a slow machine.
    overallTimeoutMs: 2 * lastJobEndMs + 5000,
  };
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
