import { asapScheduler, defer, EMPTY, type Observable, repeat, subscribeOn, timer } from 'rxjs';
import { type FetchJobsConfig, fetchJobs$ } from './fetch-jobs';
import type { TransportEvent } from './transport';

/** Dependencies of {@link pollTransport}. */
export interface PollConfig extends FetchJobsConfig {
  /** Pause between the end of one poll and the start of the next, in ms. */
  readonly intervalMs: number;
  /** Ids to poll, read afresh before every poll. */
  readonly watchedIds: () => readonly string[];
}

/**
 * Polls every watched job with one batched request per interval (one per 100 ids).
 *
 * The first poll starts one microtask after subscribe, and doubles as the snapshot after a transport
 * switch. The microtask lets it cover every job subscribed in the same synchronous run: the first
 * subscriber starts the transport, and jobs subscribed after it in a loop would otherwise wait a whole
 * interval.
 * The next poll starts `intervalMs` after the previous one ended, so two polls never overlap, and a
 * slow server stretches the period instead of piling up requests.
 */
export function pollTransport(config: PollConfig): Observable<TransportEvent> {
  const pollOnce$ = defer(() => {
    const ids = config.watchedIds();
    return ids.length === 0 ? EMPTY : fetchJobs$(ids, config);
  });
  return pollOnce$.pipe(
    subscribeOn(asapScheduler),
    repeat({ delay: () => timer(config.intervalMs) }),
  );
}
