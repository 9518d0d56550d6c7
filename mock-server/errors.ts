import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { requestId, requestLog } from './logger';

/**
 * An error that becomes a JSON response `{"error": message}` with the given status. It carries
 * no stack trace, because it reports a bad request rather than a bug, and capturing one for
 * every rejected request would only cost time.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  /** Response headers to send with the error, such as `Retry-After`. */
  readonly headers: Readonly<Record<string, string>>;
  /** Text for the server log in place of `message`, when the message quotes a secret. */
  readonly logMessage: string;

  constructor(
    status: number,
    message: string,
    options: { headers?: Readonly<Record<string, string>>; logMessage?: string } = {},
  ) {
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;

    this.status = status;
    this.headers = options.headers ?? {};
    this.logMessage = options.logMessage ?? message;
  }
}

/** Maximum number of characters of a client-supplied value that error messages quote. */
const MAX_QUOTED_LENGTH = 80;

/**
 * Quotes a client-supplied value for an error message, as JSON so that control characters
 * stay visible. Values longer than 80 characters are cut and their length is appended.
 */
export function quoteValue(value: string): string {
  if (value.length <= MAX_QUOTED_LENGTH) {
    return JSON.stringify(value);
  }
  return `${JSON.stringify(`${value.slice(0, MAX_QUOTED_LENGTH)}…`)} (${value.length} characters)`;
}

/** Sends `{"error": message}` with the status and headers. */
export function sendError(
  res: Response,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  for (const [name, value] of Object.entries(headers)) {
    res.setHeader(name, value);
  }
  res.status(status).json({ error: message });
}

/**
 * Returns a handler that responds with `404` to every request that reaches it. The message names
 * the path and ends with `routes`, a sentence that lists the routes of that part of the server.
 */
export function notFound(routes: string): RequestHandler {
  return (req, res) => {
    sendError(res, 404, `Not found: ${req.method} ${quoteValue(fullPath(req))}. ${routes}`);
  };
}

/**
 * Responds with `405` and the `Allow` header to a method that the path does not support.
 * `OPTIONS` gets `204` with `Allow` instead, as RFC 9110 describes. CORS preflights from
 * allowed origins never reach this handler, because the cors middleware responds to them first.
 */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = [...allowed, 'OPTIONS'].join(', ');
  return (req, res) => {
    res.setHeader('Allow', allow);
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    sendError(
      res,
      405,
      `Method ${req.method} is not allowed on ${fullPath(req)}: use ${allowed.join(' or ')}`,
    );
  };
}

/** Returns the request path with the mount path of the router, such as `/__mock`, and no query. */
function fullPath(req: Request): string {
  return req.baseUrl + req.path;
}

/** Fields that body-parser 2 and http-errors set on the errors they raise. */
interface ParserError {
  type?: unknown;
  status?: unknown;
  statusCode?: unknown;
  limit?: unknown;
  length?: unknown;
  charset?: unknown;
  encoding?: unknown;
  message?: unknown;
}

/**
 * Maps an error to a status and a message that is safe to send. HttpError keeps its status and
 * message, body-parser and http-errors 4xx errors keep their status, and everything else becomes a
 * `500` without details.
 */
function describeError(error: unknown): {
  status: number;
  message: string;
  headers?: Record<string, string>;
} {
  if (error instanceof HttpError) {
    return { status: error.status, message: error.message, headers: { ...error.headers } };
  }
  if (typeof error !== 'object' || error === null) {
    return { status: 500, message: 'Internal server error' };
  }

  const fields = error as ParserError;
  switch (fields.type) {
    case 'entity.too.large':
      return {
        status: 413,
        message:
          `Request body too large: the limit is ${String(fields.limit)} bytes` +
          (typeof fields.length === 'number' ? `, the body has ${fields.length}` : '') +
          '. Send a smaller JSON body',
      };
    case 'entity.parse.failed':
      return {
        status: 400,
        message:
          `Malformed JSON body: ${String(fields.message)}. ` +
          'Send a JSON object such as {"durationMs": 2000}',
      };
    case 'charset.unsupported':
      return {
        status: 415,
        message: `Unsupported charset ${quoteValue(String(fields.charset))}: send the body as UTF-8`,
      };
    case 'encoding.unsupported':
      return {
        status: 415,
        message:
          `Unsupported Content-Encoding ${quoteValue(String(fields.encoding))}: ` +
          'send the body uncompressed or with gzip, deflate or br',
      };
    case 'request.aborted':
      return { status: 400, message: 'The request was aborted before its body was complete' };
    case 'request.size.invalid':
      return {
        status: 400,
        message: 'The request body size does not match its Content-Length header',
      };
  }

  // Other 4xx errors of Express and its libraries keep their status and their short message.
  // Two of them are replaced by clearer HttpErrors before they get here: a job id that is not
  // valid percent-encoding (app.ts) and a body that fails to decompress (middleware.ts).
  const status = typeof fields.status === 'number' ? fields.status : fields.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, message: typeof fields.message === 'string' ? fields.message : 'Bad request' };
  }
  return { status: 500, message: 'Internal server error' };
}

/**
 * Final error handler. Responds with JSON that never contains a stack trace or a file path, and
 * logs every error that becomes a `500` together with its request id.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const log = requestLog(res, logger);

    if (res.headersSent) {
      // An event stream or a half-sent body cannot carry a JSON error anymore.
      log.error({ err: error }, 'error after the response started; destroying the connection');
      res.destroy();
      return;
    }

    const { status, message, headers } = describeError(error);
    if (status >= 500 && !(error instanceof HttpError)) {
      log.error({ err: error, method: req.method, path: req.path }, 'unhandled error');
      const id = requestId(res);
      sendError(res, status, id === undefined ? message : `${message} (request id ${id})`);
      return;
    }

    const reason = error instanceof HttpError ? error.logMessage : message;
    log.debug({ status, reason }, 'request rejected');
    sendError(res, status, message, headers);
  };
}
