import { MessageParseError } from '../errors';
import type { Job, JobStatus } from '../types';

/** Order of the statuses: a job's status never moves to a lower rank. */
const STATUS_RANK: Readonly<Record<JobStatus, number>> = {
  pending: 0,
  processing: 1,
  completed: 2,
  failed: 2,
};

/** Returns whether the status is final: `completed` or `failed`. */
export function isTerminal(status: JobStatus): boolean {
  return status === 'completed' || status === 'failed';
}

/**
 * Returns whether `next` carries news compared with `previous`: a higher status, or the same non-terminal
 * status with more progress. Anything else is a duplicate or a stale message, and is dropped.
 */
export function isNewer(previous: Job | undefined, next: Job): boolean {
  if (previous === undefined) return true;
  if (isTerminal(previous.status)) return false;
  const rankChange = STATUS_RANK[next.status] - STATUS_RANK[previous.status];
  if (rankChange !== 0) return rankChange > 0;
  return next.progress > previous.progress;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Returns whether the value can be a job id: 1 to 64 characters of `A-Z a-z 0-9 _ -`. */
export function isJobId(value: unknown): value is string {
  return typeof value === 'string' && JOB_ID.test(value);
}

/**
 * Checks that a value decoded from JSON is a job, and returns it typed.
 * @throws MessageParseError naming the first field that is wrong.
 */
export function toJob(value: unknown, raw?: string): Job {
  // The raw text is built only on failure, because serializing every valid job would cost time.
  const fail = (reason: string): MessageParseError =>
    new MessageParseError(reason, raw ?? String(JSON.stringify(value)));

  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fail('expected a JSON object');
  }
  const job = value as Record<string, unknown>;
  if (!isJobId(job.id)) throw fail('field "id" is not a job id');
  if (typeof job.status !== 'string' || !Object.hasOwn(STATUS_RANK, job.status)) {
    throw fail(`unknown status ${JSON.stringify(job.status)}`);
  }
  if (typeof job.progress !== 'number' || !(job.progress >= 0 && job.progress <= 100)) {
    throw fail('field "progress" is not a number from 0 to 100');
  }
  if (typeof job.createdAt !== 'string' || typeof job.updatedAt !== 'string') {
    throw fail('fields "createdAt" and "updatedAt" must be strings');
  }
  if (job.error !== undefined && typeof job.error !== 'string') {
    throw fail('field "error" must be a string');
  }
  return value as Job;
}

/** Parses a JSON text into a job. @throws MessageParseError when the text is not a job. */
export function parseJob(raw: string): Job {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new MessageParseError('invalid JSON', raw, { cause: error });
  }
  return toJob(value, raw);
}
