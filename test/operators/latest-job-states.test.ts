import { TestScheduler } from 'rxjs/testing';
import { latestJobStates } from '../../src/operators/latest-job-states';
import type { TransportEvent } from '../../src/transports/transport';
import type { Job, JobStatus } from '../../src/types';

function job(id: string, status: JobStatus, progress: number): TransportEvent {
  const time = '2026-12-04T20:30:00.000Z';
  return { kind: 'job', job: { id, status, progress, createdAt: time, updatedAt: time } };
}

const events = {
  p: job('a', 'pending', 0),
  q: job('a', 'processing', 0),
  h: job('a', 'processing', 50),
  c: job('a', 'completed', 100),
  f: job('a', 'failed', 50),
  b: job('b', 'processing', 25),
  m: { kind: 'missing', jobId: 'c' } as TransportEvent,
};

function createScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('latestJobStates', () => {
  it('drops duplicates from overlapping transports', () => {
    createScheduler().run(({ cold, expectObservable }) => {
      const source = cold('pqqhhcc|', events);
      expectObservable(source.pipe(latestJobStates(new Map()))).toBe('pq-h-c-|', events);
    });
  });

  it('never moves a status backwards', () => {
    createScheduler().run(({ cold, expectObservable }) => {
      const source = cold('hqpcqh|', events);
      expectObservable(source.pipe(latestJobStates(new Map()))).toBe('h--c--|', events);
    });
  });

  it('lets exactly one terminal status through', () => {
    createScheduler().run(({ cold, expectObservable }) => {
      const source = cold('qfcf|', events);
      expectObservable(source.pipe(latestJobStates(new Map()))).toBe('qf--|', events);
    });
  });

  it('tracks each job on its own and passes other events', () => {
    createScheduler().run(({ cold, expectObservable }) => {
      const source = cold('pbmbh|', events);
      expectObservable(source.pipe(latestJobStates(new Map()))).toBe('pbm-h|', events);
    });
  });

  it('records the accepted state in the map it was given', () => {
    const known = new Map<string, Job>();
    createScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('ph|', events).pipe(latestJobStates(known))).toBe('ph|', events);
    });
    expect(known.get('a')?.progress).toBe(50);
  });

  it('drops states older than a state learned elsewhere', () => {
    const known = new Map<string, Job>([['a', (events.c as { job: Job }).job]]);
    createScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('qh|', events).pipe(latestJobStates(known))).toBe('--|', events);
    });
  });
});
