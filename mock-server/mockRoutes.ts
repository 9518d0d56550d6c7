import express, { type RequestHandler } from 'express';
import type { AppContext } from './app';
import { methodNotAllowed, notFound } from './errors';
import { FAULT_RANGES } from './faults';
import { jsonBody, noStore } from './middleware';
import {
  expectObject,
  readInteger,
  readNumber,
  rejectUnknownFields,
  requireField,
} from './validation';

/** Path under which the app mounts the router of {@link createMockRouter}. */
export const MOCK_PATH = '/__mock';

const MOCK_ROUTES =
  `The ${MOCK_PATH} routes are POST ${MOCK_PATH}/faults/drop-streams, ` +
  `POST ${MOCK_PATH}/faults/refuse-streams, POST ${MOCK_PATH}/faults/latency, ` +
  `POST ${MOCK_PATH}/faults/error-rate, DELETE ${MOCK_PATH}/faults and GET ${MOCK_PATH}/stats`;

const REFUSE_EXAMPLE = '{"durationMs": 2000}';
const LATENCY_EXAMPLE = '{"ms": 200}';
const ERROR_RATE_EXAMPLE = '{"rate": 0.1, "status": 503}';

/**
 * Builds the `/__mock` router: fault injection and counters. These routes need no client id
 * and are never delayed or failed by the faults themselves.
 */
export function createMockRouter(
  context: AppContext,
  countRequest: RequestHandler,
): express.Router {
  const { faults } = context;
  const router = express.Router();
  const parseBody = jsonBody(context.options.limits.bodyBytes);

  router.use(countRequest, noStore);

  router
    .route('/faults/drop-streams')
    .post((_req, res) => {
      res.json({ dropped: faults.dropStreams() });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/faults/refuse-streams')
    .post(parseBody, (req, res) => {
      const fields = expectObject(req.body ?? {}, REFUSE_EXAMPLE);
      rejectUnknownFields(fields, ['durationMs']);
      const durationMs = requireField(
        readInteger(fields, 'durationMs', 0, FAULT_RANGES.maxRefuseMs),
        'durationMs',
        REFUSE_EXAMPLE,
      );
      faults.refuseStreams(durationMs);
      res.json({ faults: faults.state() });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/faults/latency')
    .post(parseBody, (req, res) => {
      const fields = expectObject(req.body ?? {}, LATENCY_EXAMPLE);
      rejectUnknownFields(fields, ['ms']);
      const ms = requireField(
        readInteger(fields, 'ms', 0, FAULT_RANGES.maxLatencyMs),
        'ms',
        LATENCY_EXAMPLE,
      );
      faults.setLatency(ms);
      res.json({ faults: faults.state() });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/faults/error-rate')
    .post(parseBody, (req, res) => {
      const fields = expectObject(req.body ?? {}, ERROR_RATE_EXAMPLE);
      rejectUnknownFields(fields, ['rate', 'status']);
      const rate = requireField(readNumber(fields, 'rate', 0, 1), 'rate', ERROR_RATE_EXAMPLE);
      const status = readInteger(
        fields,
        'status',
        FAULT_RANGES.minErrorStatus,
        FAULT_RANGES.maxErrorStatus,
      );
      faults.setErrorRate(rate, status);
      res.json({ faults: faults.state() });
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/faults')
    .delete((_req, res) => {
      faults.reset();
      res.json({ faults: faults.state() });
    })
    .all(methodNotAllowed(['DELETE']));

  router
    .route('/stats')
    .get((_req, res) => {
      res.json(context.stats());
    })
    .all(methodNotAllowed(['GET', 'HEAD']));

  // Every path under /__mock belongs to this router, so an unknown one gets a 404 that lists
  // these routes, and static files are never served from it.
  router.use(notFound(MOCK_ROUTES));
  return router;
}
