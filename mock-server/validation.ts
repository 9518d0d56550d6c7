import type { Request } from 'express';
import { HttpError, quoteValue } from './errors';
import { MAX_JOB_DURATION_MS } from './options';
import type { CreateJobOptions } from './store';

const CLIENT_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
const JOB_ID_CHARACTERS = /^[A-Za-z0-9_-]+$/;

export const MISSING_CLIENT_ID_MESSAGE =
  'Missing client id: send the X-Client-Id header or the uuid query parameter';

/**
 * Returns the client id of the request: the `X-Client-Id` header, or else the `uuid` query
 * parameter. Throws HttpError 401 when both are missing and 400 when the one used is invalid.
 */
export function readClientId(req: Request): string {
  const header = req.headers['x-client-id'];
  if (header !== undefined) {
    // Node joins repeated X-Client-Id headers with ", ", which the pattern rejects.
    return validateClientId(String(header), 'X-Client-Id header');
  }

  const query: unknown = req.query.uuid;
  if (query === undefined) {
    throw new HttpError(401, MISSING_CLIENT_ID_MESSAGE);
  }
  if (typeof query !== 'string') {
    throw new HttpError(400, 'Invalid uuid query parameter: send it once, as a single value');
  }
  return validateClientId(query, 'uuid query parameter');
}

function validateClientId(value: string, source: string): string {
  if (!CLIENT_ID_PATTERN.test(value)) {
    const rule = 'expected 1 to 128 characters of A-Z a-z 0-9 . _ ~ -';
    // A rejected value can still contain a valid id, as two joined X-Client-Id headers do.
    throw new HttpError(400, `Invalid client id ${quoteValue(value)} in the ${source}: ${rule}`, {
      logMessage: `Invalid client id (${value.length} characters) in the ${source}: ${rule}`,
    });
  }
  return value;
}

/** Returns `id` when it can name a job, else throws HttpError 400 naming the id. */
export function validateJobId(id: string, maxLength: number): string {
  if (id.length === 0 || id.length > maxLength || !JOB_ID_CHARACTERS.test(id)) {
    throw invalidJobIdError(id, maxLength);
  }
  return id;
}

/** Creates the HttpError 400 for a job id that cannot name a job, with the rule for ids. */
export function invalidJobIdError(id: string, maxLength: number): HttpError {
  return new HttpError(
    400,
    `Invalid job id ${quoteValue(id)}: expected 1 to ${maxLength} characters of A-Z a-z 0-9 _ -`,
  );
}

/**
 * Parses the `ids` query parameter: a comma-separated list, which may also be repeated
 * (`?ids=a,b&ids=c`). Returns the distinct ids in request order. Throws HttpError 400 for no
 * ids, more than `maxIds` ids (duplicates count, because the limit bounds the request size)
 * or a malformed id, including the empty id that `a,,b` contains.
 */
export function parseBatchIds(raw: unknown, maxIds: number, maxIdLength: number): string[] {
  const parts = Array.isArray(raw) ? raw : [raw];
  const ids: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string' && part !== '') {
      ids.push(...part.split(','));
    }
  }

  if (ids.length === 0) {
    throw new HttpError(
      400,
      `Missing ids: pass 1 to ${maxIds} comma-separated job ids, as in /status?ids=a,b`,
    );
  }
  if (ids.length > maxIds) {
    throw new HttpError(
      400,
      `Too many ids: got ${ids.length}, the maximum is ${maxIds}. Split them into several requests`,
    );
  }

  for (const id of ids) {
    validateJobId(id, maxIdLength);
  }
  return [...new Set(ids)];
}

/**
 * Parses a `Last-Event-ID` value. Returns undefined for anything that is not a non-negative
 * safe integer in decimal digits, because the protocol ignores such values.
 */
export function parseLastEventId(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw)) {
    return undefined;
  }
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : undefined;
}

const CREATE_EXAMPLE = '{"durationMs": 2000, "outcome": "completed"}';

/**
 * Validates the optional `POST /create` body. `undefined` (no body) means defaults.
 * Throws HttpError 400 naming the first invalid or unknown field.
 */
export function parseCreateBody(body: unknown): CreateJobOptions {
  if (body === undefined) {
    return {};
  }
  const fields = expectObject(body, CREATE_EXAMPLE);
  rejectUnknownFields(fields, ['durationMs', 'outcome']);

  const options: CreateJobOptions = {};
  const durationMs = readInteger(fields, 'durationMs', 1, MAX_JOB_DURATION_MS);
  if (durationMs !== undefined) {
    options.durationMs = durationMs;
  }

  const outcome = fields.outcome;
  if (outcome !== undefined) {
    if (outcome !== 'completed' && outcome !== 'failed') {
      throw new HttpError(
        400,
        `Invalid outcome ${describeJson(outcome)}: expected "completed" or "failed"`,
      );
    }
    options.outcome = outcome;
  }
  return options;
}

/** Throws HttpError 400 unless `body` is a JSON object, and returns it as a record. */
export function expectObject(body: unknown, example: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    const kind = body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`;
    throw new HttpError(
      400,
      `Invalid body: expected a JSON object such as ${example}, got ${kind}`,
    );
  }
  return body as Record<string, unknown>;
}

/** Throws HttpError 400 naming the first field of `fields` that is not in `allowed`. */
export function rejectUnknownFields(
  fields: Record<string, unknown>,
  allowed: readonly string[],
): void {
  for (const name of Object.keys(fields)) {
    if (!allowed.includes(name)) {
      throw new HttpError(
        400,
        `Unknown field ${quoteValue(name)} in the body: the allowed fields are ${allowed.join(', ')}`,
      );
    }
  }
}

/** Returns the integer field, undefined when absent, or throws HttpError 400 naming it. */
export function readInteger(
  fields: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  return readNumericField(fields, name, min, max, true);
}

/** Returns the number field, undefined when absent, or throws HttpError 400 naming it. */
export function readNumber(
  fields: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  return readNumericField(fields, name, min, max, false);
}

function readNumericField(
  fields: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  integer: boolean,
): number | undefined {
  const value = fields[name];
  if (value === undefined) {
    return undefined;
  }
  const isValid =
    typeof value === 'number' &&
    (integer ? Number.isInteger(value) : Number.isFinite(value)) &&
    value >= min &&
    value <= max;
  if (!isValid) {
    const kind = integer ? 'an integer' : 'a number';
    throw new HttpError(
      400,
      `Invalid ${name} ${describeJson(value)}: expected ${kind} from ${min} to ${max}`,
    );
  }
  return value;
}

/** Returns the field value, or throws HttpError 400 when it is missing. */
export function requireField<T>(value: T | undefined, name: string, example: string): T {
  if (value === undefined) {
    throw new HttpError(400, `Missing field ${name}: send a JSON body such as ${example}`);
  }
  return value;
}

/** Shows a parsed JSON value as JSON text, cut after 80 characters. */
function describeJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
