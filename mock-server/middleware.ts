import express, { type Request, type RequestHandler } from 'express';
import { HttpError, quoteValue } from './errors';

/**
 * Route labels of the request counters in `stats().requests`: `create`, `status` (one job),
 * `batch`, `stream`, `mock` (every `/__mock` route) and `other` (404, 405 and static files).
 */
export type RouteLabel = 'create' | 'status' | 'batch' | 'stream' | 'mock' | 'other';

/**
 * Returns middleware that counts the request under `label`. A request is counted once, under
 * the first label it reaches.
 */
export function countAs(
  countRequest: (label: RouteLabel) => void,
  label: RouteLabel,
): RequestHandler {
  return (_req, res, next) => {
    if (res.locals.routeLabel === undefined) {
      res.locals.routeLabel = label;
      countRequest(label);
    }
    next();
  };
}

/** Marks responses as uncacheable, because job status changes while a job runs. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/**
 * Returns a JSON body parser that also reads bodies without a Content-Type header, and
 * rejects other media types with `415`. Requests without a body keep `req.body` undefined.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  const parse = express.json({ limit: limitBytes, strict: false, type: () => true });
  return (req, res, next) => {
    // req.is() returns null when the request has no body, and false for another media type.
    if (
      req.headers['content-type'] !== undefined &&
      req.is(['application/json', '+json']) === false
    ) {
      next(
        new HttpError(
          415,
          `Unsupported Content-Type ${quoteValue(req.headers['content-type'])}: ` +
            'send the body as application/json',
        ),
      );
      return;
    }
    parse(req, res, (error?: unknown) => {
      next(isDecompressionError(error) ? decompressionError(req) : error);
    });
  };
}

/**
 * Returns true for the zlib or brotli error that body-parser passes on, with status 400, when a
 * body does not match its Content-Encoding. Those errors carry `errno` and `code` but none of
 * the `type` values that body-parser gives its own errors.
 */
function isDecompressionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) {
    return false;
  }
  const fields = error as { code?: unknown; errno?: unknown; type?: unknown };
  return (
    fields.type === undefined && typeof fields.code === 'string' && typeof fields.errno === 'number'
  );
}

function decompressionError(req: Request): HttpError {
  const header = req.headers['content-encoding'] ?? '';
  const encoding = header.trim().toLowerCase();
  return new HttpError(
    400,
    `Invalid body: the Content-Encoding header is ${quoteValue(header)}, but the body is not ` +
      `valid ${encoding} data. Send the body compressed with ${encoding}, or send it ` +
      'uncompressed without a Content-Encoding header',
  );
}
