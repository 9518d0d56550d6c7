import {
  distinctUntilChanged,
  merge,
  type Observable,
  type OperatorFunction,
  switchMap,
} from 'rxjs';

/**
 * Moves a stream of status events from one transport to another each time the source emits a
 * different mode, without completing or erroring downstream.
 *
 * For each new mode it unsubscribes the previous transport, subscribes `select(mode)`, and at the
 * same time subscribes `snapshot(mode)`: a one-off read of the watched jobs that covers whatever
 * changed while no transport was listening. The result therefore contains duplicates, and the consumer
 * drops them (see `latestJobStates`). A repeated mode is ignored, so a transport is never restarted
 * for nothing. Errors of either inner Observable reach the subscriber; the result completes when the
 * mode source completes and the current transport and snapshot have completed.
 */
export function switchTransport<M, T>(
  select: (mode: M) => Observable<T>,
  snapshot: (mode: M) => Observable<T>,
): OperatorFunction<M, T> {
  return (mode$) =>
    mode$.pipe(
      distinctUntilChanged(),
      switchMap((mode) => merge(select(mode), snapshot(mode))),
    );
}
