import { HeyGenStatusListenerMode } from '../src';
import { formatDuration, formatElapsed } from './display';
import { JOB_COUNT } from './options';
import type { RequestCounter } from './request-counter';
import type { JobRecord, ScenarioResult, TransportChange } from './scenario';

const { SSE, POLL } = HeyGenStatusListenerMode;

/** Request counters of the mock server, as `stats()` and `GET /__mock/stats` return them. */
export interface ServerCounters {
  /** Requests by route label, such as `create`, `batch` and `stream`. */
  readonly requests: Readonly<Record<string, number>>;
  /** Responses by status code, each counted when the response closes. */
  readonly responses: Readonly<Record<string, number>>;
  /** Event streams still open, whose responses `responses` does not count yet. */
  readonly openStreams?: number;
}

/** Whether the run passed, and the reasons when it did not. */
export interface Verdict {
  readonly passed: boolean;
  readonly reasons: readonly string[];
}

/**
 * Decides whether the run passed: every job completed and, when `expectRoundTrip` is set, the
 * transport went SSE -> POLL -> SSE.
 */
export function evaluate(result: ScenarioResult, expectRoundTrip: boolean): Verdict {
  const reasons: string[] = [];
  if (result.outcome === 'timed out') reasons.push('the scenario timed out');
  if (result.outcome === 'interrupted') {
    reasons.push(`the scenario was interrupted (${String(result.error)})`);
  }
  if (result.outcome === 'failed') {
    reasons.push(`the scenario stopped: ${describeError(result.error)}`);
  }

  const completed = result.jobs.filter((job) => job.last.status === 'completed').length;
  if (completed < JOB_COUNT) {
    const unfinished = result.jobs
      .filter((job) => job.last.status !== 'completed')
      .map((job) => `${job.label} is ${job.last.status} at ${job.last.progress}%`);
    const notCreated = JOB_COUNT - result.jobs.length;
    if (notCreated > 0) unfinished.push(`${notCreated} not created`);
    reasons.push(`${completed} of ${JOB_COUNT} jobs completed (${unfinished.join(', ')})`);
  }

  if (expectRoundTrip && !hasRoundTrip(result.transports)) {
    const observed = transportPath(result.transports);
    reasons.push(`no SSE -> POLL -> SSE round trip was observed (transports: ${observed})`);
  }
  return { passed: reasons.length === 0, reasons };
}

/** Returns true when the transports went from SSE to POLL and later back to SSE. */
export function hasRoundTrip(transports: readonly TransportChange[]): boolean {
  const fallback = transports.findIndex(
    (change, index) => change.transport === POLL && transports[index - 1]?.transport === SSE,
  );
  if (fallback === -1) return false;
  return transports.slice(fallback + 1).some((change) => change.transport === SSE);
}

/** Formats the summary block: jobs, transports, outage, requests and the verdict. */
export function formatSummary(
  result: ScenarioResult,
  requests: RequestCounter,
  server: { readonly label: string; readonly counters: ServerCounters | string },
  verdict: Verdict,
): string[] {
  const lines = ['', 'Summary'];

  lines.push('  jobs (duration as observed by the client / run time on the server)');
  for (const job of result.jobs) lines.push(`    ${formatJob(job)}`);
  for (let index = result.jobs.length; index < JOB_COUNT; index += 1) {
    lines.push(`    job ${index + 1}  not created`);
  }

  const changes = Math.max(0, result.transports.length - 1);
  lines.push(
    `  transport (${changes} ${changes === 1 ? 'change' : 'changes'})`,
    `    ${transportPath(result.transports)}`,
  );

  const { outage } = result;
  lines.push('  SSE outage');
  if (outage === undefined) {
    lines.push('    none injected');
  } else {
    const lifted =
      outage.liftedAtMs === undefined
        ? 'not lifted'
        : `lifted at ${formatElapsed(outage.liftedAtMs)}`;
    lines.push(
      `    injected at ${formatElapsed(outage.injectedAtMs)}: open streams dropped ` +
        `(${outage.droppedStreams}), new streams refused for ${outage.durationMs} ms, ${lifted}`,
    );
  }

  lines.push('  requests sent by the client');
  for (const { route, total, outcomes } of requests.entries()) {
    const byOutcome = [...outcomes].map(([outcome, count]) => `${outcome} x${count}`).join(', ');
    lines.push(`    ${route.padEnd(28)} ${String(total).padStart(4)}  (${byOutcome})`);
  }

  lines.push(`  ${server.label}`);
  if (typeof server.counters === 'string') {
    lines.push(`    ${server.counters}`);
  } else {
    lines.push(`    by route     ${formatCounts(server.counters.requests)}`);
    lines.push(`    by status    ${formatCounts(server.counters.responses)}`);
    // The client counts a stream's 200 when the headers arrive, so without this line the
    // client's counts would show one more 200 per open stream with no reason given.
    const open = server.counters.openStreams ?? 0;
    if (open > 0) {
      const streams = open === 1 ? '1 event stream' : `${open} event streams`;
      lines.push(
        `    still open   ${streams}, counted by status when ${open === 1 ? 'it closes' : 'they close'}`,
      );
    }
  }

  lines.push('  result');
  if (verdict.passed) {
    lines.push('    PASS');
  } else {
    for (const reason of verdict.reasons) lines.push(`    FAIL: ${reason}`);
  }
  lines.push('');
  return lines;
}

function formatJob(job: JobRecord): string {
  const state = `${job.last.status.padEnd(10)} ${String(job.last.progress).padStart(3)}%`;
  let durations = 'unfinished';
  if (job.finishedAtMs !== undefined) {
    // On the server, a job's run time is the time from its creation to its final status.
    const serverMs = Date.parse(job.last.updatedAt) - Date.parse(job.last.createdAt);
    const clientMs = job.finishedAtMs - job.createdAtMs;
    durations = `${formatDuration(clientMs)} / ${formatDuration(serverMs)}`;
  }
  const error = job.error === undefined ? '' : `  ${job.error.name}: ${job.error.message}`;
  return `${job.label}  ${job.id}  ${state}  ${durations}${error}`;
}

function transportPath(transports: readonly TransportChange[]): string {
  if (transports.length === 0) return 'none observed';
  return transports
    .map((change) => `${change.transport} at ${formatElapsed(change.atMs)}`)
    .join(' -> ');
}

function formatCounts(counts: Readonly<Record<string, number>>): string {
  const entries = Object.entries(counts);
  if (entries.length === 0) return 'none';
  return entries.map(([key, count]) => `${key} ${count}`).join(', ');
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
