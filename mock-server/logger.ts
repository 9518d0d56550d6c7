import { randomUUID } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

/** Incoming `X-Request-Id` values that are reused. Anything else is replaced by a UUID. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Shortens a client id for logs. The id works like a bearer token, because any request that
 * carries it can read the client's jobs, so logs show at most its first 6 characters and
 * never more than half of it.
 */
export function shortClientId(clientId: string): string {
  const visible = Math.min(6, Math.floor(clientId.length / 2));
  return `${clientId.slice(0, visible)}…`;
}

/** Returns `url` with the value of every `uuid` query parameter shortened by {@link shortClientId}. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]uuid=)([^&#]*)/g, (_match, prefix: string, value: string) => {
    return prefix + shortClientId(value);
  });
}

/** Returns the per-request logger that {@link requestLogging} stored, or `fallback`. */
export function requestLog(res: Response, fallback: Logger): Logger {
  const log: unknown = res.locals.log;
  return (log as Logger | undefined) ?? fallback;
}

/** Returns the request id that {@link requestLogging} assigned. */
export function requestId(res: Response): string | undefined {
  const id: unknown = res.locals.requestId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Assigns each request an id (sent back as `X-Request-Id`) and a child logger, and logs the
 * start (debug) and the end (info, or error for a 5xx) of every request.
 * `onResponse` receives the status code sent, or undefined when the connection closed first.
 */
export function requestLogging(
  logger: Logger,
  onResponse: (status: number | undefined) => void,
): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const id =
      incoming !== undefined && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID();
    const log = logger.child({ requestId: id });
    res.locals.requestId = id;
    res.locals.log = log;
    res.setHeader('X-Request-Id', id);

    const startedAt = performance.now();
    const url = redactUrl(req.originalUrl);
    log.debug({ method: req.method, url }, 'request started');

    res.once('close', () => {
      const status = res.headersSent ? res.statusCode : undefined;
      onResponse(status);

      const entry = {
        method: req.method,
        url,
        status,
        durationMs: Math.round(performance.now() - startedAt),
        finished: res.writableFinished,
      };
      if (status !== undefined && status >= 500) {
        log.error(entry, 'request failed with a server error');
      } else {
        log.info(entry, 'request finished');
      }
    });
    next();
  };
}
