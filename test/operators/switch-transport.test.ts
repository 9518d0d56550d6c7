import { type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { switchTransport } from '../../src/operators/switch-transport';

function createScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('switchTransport', () => {
  it('moves from one transport to the next without ending the output', () => {
    createScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const mode = hot('  s-----p------|');
      const sse = cold('  -a-b-c-d-e');
      const poll = cold('       --x--y--z|');
      const snapshots = { s: cold('|'), p: cold('|') };
      const transports: Record<string, Observable<string>> = { s: sse, p: poll };

      const output = mode.pipe(
        switchTransport(
          (m) => transports[m] as Observable<string>,
          (m) => snapshots[m as 's' | 'p'],
        ),
      );

      expectObservable(output).toBe('-a-b-c--x--y--z|');
      expectSubscriptions(sse.subscriptions).toBe('^-----!');
      expectSubscriptions(poll.subscriptions).toBe('------^--------!');
    });
  });

  it('takes one snapshot per switch, alongside the new transport', () => {
    createScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const mode = hot('    s---p---s---');
      const sse = cold('    ----a');
      const poll = cold('   --b');
      const snapshot = cold('-S|');

      const output = mode.pipe(
        switchTransport(
          (m) => (m === 's' ? sse : poll),
          () => snapshot,
        ),
      );

      expectObservable(output).toBe('-S---Sb--S--a');
      expectSubscriptions(snapshot.subscriptions).toBe(['^-!', '----^-!', '--------^-!']);
    });
  });

  it('ignores a repeated mode instead of restarting the transport', () => {
    createScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const mode = hot('  s--s--s--');
      const sse = cold('  -a--b--c-');
      const snapshot = cold('|');

      const output = mode.pipe(
        switchTransport(
          () => sse,
          () => snapshot,
        ),
      );

      expectObservable(output).toBe('-a--b--c-');
      expectSubscriptions(sse.subscriptions).toBe('^--------');
    });
  });

  it('passes a transport error to the subscriber and unsubscribes the rest', () => {
    createScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const mode = hot('  s-------');
      const sse = cold('  -a--#', undefined, new Error('stream failed'));
      const snapshot = cold('--S----');

      const output = mode.pipe(
        switchTransport(
          () => sse,
          () => snapshot,
        ),
      );

      expectObservable(output).toBe('-aS-#', undefined, new Error('stream failed'));
      expectSubscriptions(snapshot.subscriptions).toBe('^---!');
    });
  });

  it('unsubscribes the active transport when the subscriber leaves', () => {
    createScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const mode = hot('  s--p-----');
      const sse = cold('  -a-------');
      const poll = cold(' -b-b-b-b-');
      const snapshot = cold('-');

      const output = mode.pipe(
        switchTransport(
          (m) => (m === 's' ? sse : poll),
          () => snapshot,
        ),
      );

      expectObservable(output, '^------!').toBe('-a--b-b');
      expectSubscriptions(poll.subscriptions).toBe('---^---!');
    });
  });
});
