import { filter, type MonoTypeOperatorFunction } from 'rxjs';
import { isNewer } from '../internal/job';
import type { TransportEvent } from '../transports/transport';
import type { Job } from '../types';

/**
 * Lets a job event through only when it is newer than the state in `known` (see `isNewer`), and
 * records it there. Duplicates from overlapping transports and snapshots, and stale messages that
 * would move a status backwards, are dropped. Other events pass unchanged.
 *
 * @param known latest state per job id; the operator writes to it, and the caller may read it.
 */
export function latestJobStates(known: Map<string, Job>): MonoTypeOperatorFunction<TransportEvent> {
  return filter((event) => {
    if (event.kind !== 'job') return true;
    const { job } = event;
    if (!isNewer(known.get(job.id), job)) return false;
    known.set(job.id, job);
    return true;
  });
}
