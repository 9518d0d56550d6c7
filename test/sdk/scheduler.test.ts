/**
 * The `scheduler` option: every emission of `jobStatus$` is delivered through the scheduler that the
 * application passes, against a real mock server.
 */
import { EventSource } from 'eventsource';
import {
  asapScheduler,
  type SchedulerAction,
  type SchedulerLike,
  type Subscription,
  VirtualTimeScheduler,
} from 'rxjs';
import { HeyGenStatusListenerMode, type Job } from '../../src';
import {
  finishOf,
  firstNonForwardStep,
  record,
  stateOf,
  useResources,
  waitFor,
  waitForServerStatus,
} from '../helpers/sdk';

const resources = useResources();

/** A stand-in for Angular's `NgZone`: it runs functions and reports whether one is running. */
class FakeZone {
  private depth = 0;
  runs = 0;

  get inside(): boolean {
    return this.depth > 0;
  }

  run<T>(fn: () => T): T {
    this.depth += 1;
    this.runs += 1;
    try {
      return fn();
    } finally {
      this.depth -= 1;
    }
  }
}

/** Wraps `inner` so that each action runs inside `zone.run`, as an Angular app would write it. */
function enterZone(zone: FakeZone, inner: SchedulerLike): SchedulerLike {
  return {
    now: () => inner.now(),
    schedule<T>(
      work: (this: SchedulerAction<T>, state?: T) => void,
      delay?: number,
      state?: T,
    ): Subscription {
      return inner.schedule<T>(
        function (this: SchedulerAction<T>, innerState?: T) {
          zone.run(() => work.call(this, innerState));
        },
        delay,
        state,
      );
    },
  };
}

async function startSseClient(scheduler: SchedulerLike | undefined) {
  const { server, url } = await resources.startServer();
  const heygen = resources.createClient({
    url,
    mode: HeyGenStatusListenerMode.SSE,
    EventSource,
    scheduler,
  });
  return { server, heygen };
}

describe('scheduler option', () => {
  it('delivers every emission inside the zone', async () => {
    const zone = new FakeZone();
    const { heygen } = await startSseClient(enterZone(zone, asapScheduler));
    const jobId = await heygen.createJob({ durationMs: 300 });
    const insideZone: boolean[] = [];
    let completedInside: boolean | undefined;

    const recording = record(heygen.jobStatus$(jobId));
    const extra = heygen.jobStatus$(jobId).subscribe({
      next: () => insideZone.push(zone.inside),
      complete: () => {
        completedInside = zone.inside;
      },
    });
    resources.defer(() => extra.unsubscribe());
    await finishOf(recording, `job ${jobId} to finish`);

    expect(recording.completed).toBe(true);
    expect(recording.values.at(-1)?.status).toBe('completed');
    expect(insideZone).toHaveLength(recording.values.length);
    expect(insideZone.every((inside) => inside)).toBe(true);
    expect(completedInside).toBe(true);
    // One zone entry per delivered state and one for the completion.
    expect(zone.runs).toBeGreaterThanOrEqual(recording.values.length + 1);
  });

  it.each([
    ['without a scheduler', undefined, ['next pending:0', 'subscribe returned']],
    ['with asapScheduler', asapScheduler, ['subscribe returned', 'next pending:0']],
  ])('first state %s', async (_name, scheduler, expected) => {
    const { heygen } = await startSseClient(scheduler);
    // The client remembers the job it created, so a subscriber gets that state without a request.
    const job = await heygen.createJobRecord({ durationMs: 60_000 });
    const order: string[] = [];

    const subscription = heygen.jobStatus$(job.id).subscribe((state: Job) => {
      order.push(`next ${stateOf(state)}`);
    });
    resources.defer(() => subscription.unsubscribe());
    order.push('subscribe returned');
    await waitFor('the first state', () => order.length >= 2);

    expect(order.slice(0, 2)).toEqual(expected);
  });

  it('virtual time holds emissions until flush', async () => {
    const scheduler = new VirtualTimeScheduler();
    const { server, heygen } = await startSseClient(scheduler);
    const jobId = await heygen.createJob({ durationMs: 300 });
    let flushing = false;
    const deliveredWhileFlushing: boolean[] = [];

    const recording = record(heygen.jobStatus$(jobId));
    const probe = heygen.jobStatus$(jobId).subscribe(() => {
      deliveredWhileFlushing.push(flushing);
    });
    resources.defer(() => probe.unsubscribe());
    const queuedBeforeFlush = scheduler.actions.length;
    const valuesBeforeFlush = recording.values.length;

    await waitForServerStatus(server, heygen.clientId, jobId, 'completed');
    // The completed state reaches the client shortly after the server sets it. Each flush delivers
    // what has arrived so far.
    await waitFor('the completion to be flushed', () => {
      flushing = true;
      scheduler.flush();
      flushing = false;
      return recording.completed;
    });

    expect(queuedBeforeFlush).toBeGreaterThan(0);
    expect(valuesBeforeFlush).toBe(0);
    expect(recording.values.map(stateOf).at(-1)).toBe('completed:100');
    expect(firstNonForwardStep(recording.values)).toBeUndefined();
    expect(deliveredWhileFlushing).toHaveLength(recording.values.length);
    expect(deliveredWhileFlushing.every((whileFlushing) => whileFlushing)).toBe(true);
  });
});
