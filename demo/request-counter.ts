import { EventSource } from 'eventsource';
import type { EventSourceConstructor } from '../src';

/** Label of the event stream requests, which the EventSource sends with its own fetch. */
const STREAM_REQUEST = 'GET /status (event stream)';

/**
 * Counts the HTTP requests that the SDK and its EventSource send, by route and by outcome (the
 * status code, or `network error` when no response arrived).
 */
export class RequestCounter {
  private readonly counts = new Map<string, Map<string, number>>();

  /** A `fetch` for the SDK's `fetch` option that counts every request. */
  readonly fetch: typeof fetch = (input, init) =>
    this.count(routeOf(input, init?.method), () => globalThis.fetch(input, init));

  /**
   * An EventSource class for the SDK's `EventSource` option that counts every connection attempt,
   * the reconnections the EventSource makes by itself included.
   */
  readonly EventSource: EventSourceConstructor = createCountingEventSource((input, init) =>
    this.count(STREAM_REQUEST, () => globalThis.fetch(input, init)),
  );

  /** Returns the counts per route and per outcome, routes in the order they were first seen. */
  entries(): Array<{ route: string; total: number; outcomes: Map<string, number> }> {
    return [...this.counts].map(([route, outcomes]) => ({
      route,
      total: [...outcomes.values()].reduce((sum, count) => sum + count, 0),
      outcomes,
    }));
  }

  private async count(route: string, send: () => Promise<Response>): Promise<Response> {
    try {
      const response = await send();
      this.add(route, String(response.status));
      return response;
    } catch (error) {
      // An AbortError means that the SDK or the EventSource cancelled the request before the
      // response arrived, by closing the connection or at the request timeout.
      this.add(
        route,
        error instanceof Error && error.name === 'AbortError' ? 'aborted' : 'network error',
      );
      throw error;
    }
  }

  private add(route: string, outcome: string): void {
    let outcomes = this.counts.get(route);
    if (outcomes === undefined) {
      outcomes = new Map();
      this.counts.set(route, outcomes);
    }
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }
}

function createCountingEventSource(streamFetch: typeof fetch): EventSourceConstructor {
  return class CountingEventSource extends EventSource {
    constructor(url: string) {
      super(url, { fetch: streamFetch });
    }
  };
}

/** Returns the protocol route of a request without ids or client id, such as `GET /status?ids=`. */
function routeOf(input: string | URL | Request, method: string | undefined): string {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const verb = (method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  if (url.pathname.endsWith('/create')) return `${verb} /create`;
  if (/\/status\/[^/]+$/.test(url.pathname)) return `${verb} /status/:id`;
  if (url.pathname.endsWith('/status') && url.searchParams.has('ids')) {
    return `${verb} /status?ids=`;
  }
  return `${verb} ${url.pathname}`;
}
