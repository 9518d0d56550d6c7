import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMockServer, type MockServer } from '../../mock-server';
import { waitFor } from '../helpers/waitFor';
import { RawStream } from './support/rawStream';
import { CLIENT_A, startServer } from './support/server';

const warnings: Error[] = [];
const onWarning = (warning: Error): void => {
  warnings.push(warning);
};

beforeAll(() => {
  process.on('warning', onWarning);
});

afterAll(() => {
  process.off('warning', onWarning);
});

let server: MockServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Counts the active libuv resources of the kinds the mock server can create. */
function activeResources(): Record<string, number> {
  const counts: Record<string, number> = { Timeout: 0, TCPServerWrap: 0, TCPSocketWrap: 0 };
  for (const name of process.getActiveResourcesInfo()) {
    if (name in counts) {
      counts[name] = (counts[name] ?? 0) + 1;
    }
  }
  return counts;
}

/**
 * Returns a function that runs a full garbage collection. Jest starts Node without --expose-gc, so
 * the flag is set at run time and `gc` is read from a fresh context, where V8 installs it.
 */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap in use after two full collections, in bytes. */
function heapAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function storeListeners(target: MockServer): { change: number; evict: number } {
  return {
    change: target.store.listenerCount('change'),
    evict: target.store.listenerCount('evict'),
  };
}

describe('resource cleanup', () => {
  test('1,000 stream open/abort cycles return to baseline', async () => {
    const running = await startServer({ heartbeatMs: 20, limits: { maxStreamsPerClient: 1000 } });
    server = running.server;
    const baselineListeners = storeListeners(server);
    const baselineStats = server.stats();
    expect(baselineStats.timers).toBe(0);
    const gc = exposeGc();

    const batches = 20;
    const perBatch = 50;
    let baselineHeap = 0;
    for (let batch = 0; batch < batches; batch += 1) {
      // The first batch warms up lazily built state (JIT code, pools), so the heap baseline is
      // taken after it. Every stream of that batch is closed by then.
      if (batch === 1) {
        const warm = server;
        await waitFor('the warm-up streams to be released', () => warm.stats().openStreams === 0);
        baselineHeap = heapAfterGc(gc);
      }
      const opened = await Promise.all(
        Array.from({ length: perBatch }, (_, index) =>
          RawStream.open(`${running.url}/status`, { 'X-Client-Id': `cycle-client-${index % 10}` }),
        ),
      );
      await Promise.all(opened.map((stream) => stream.waitForText('connected')));
      expect(server.stats().timers).toBe(1);
      for (const stream of opened) {
        stream.close();
      }
    }

    const target = server;
    await waitFor('every aborted stream to be released', () => target.stats().openStreams === 0);
    const after = server.stats();
    expect(after.openStreams).toBe(0);
    expect(after.timers).toBe(baselineStats.timers);
    expect(after.clients).toBe(0);
    expect(after.requests.stream).toBe(batches * perBatch);
    expect(storeListeners(server)).toEqual(baselineListeners);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual(
      [],
    );
    // An open stream costs the server about 18 KiB, so keeping even a tenth of the 950 measured
    // streams would pass 1.5 MiB.
    const heapGrowth = heapAfterGc(gc) - baselineHeap;
    expect(heapGrowth).toBeLessThan(1.5 * 1024 * 1024);
  });

  test('1,000 concurrent streams of one client all get each event', async () => {
    const running = await startServer({ jobTimeMs: 60_000, limits: { maxStreamsPerClient: 1000 } });
    server = running.server;
    const baselineListeners = storeListeners(server);

    const opened = await Promise.all(
      Array.from({ length: 1000 }, () =>
        RawStream.open(`${running.url}/status`, { 'X-Client-Id': CLIENT_A }),
      ),
    );
    try {
      expect(opened.every((stream) => stream.status === 200)).toBe(true);
      const target = server;
      await waitFor('1,000 open streams', () => target.stats().openStreams === 1000);

      const job = server.store.createJob(CLIENT_A);
      await waitFor('the pending event on every stream', () =>
        opened.every((stream) => stream.text.includes(job.id)),
      );
      expect(storeListeners(server)).toEqual(baselineListeners);
      expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual(
        [],
      );
    } finally {
      for (const stream of opened) {
        stream.close();
      }
    }
    const target = server;
    await waitFor('every stream to be released', () => target.stats().openStreams === 0);
  });

  test('close leaves no timers, sockets or servers', async () => {
    // Sockets of the previous test may still be closing, which shows as pending immediates.
    await waitFor('earlier sockets to finish closing', () =>
      process.getActiveResourcesInfo().every((name) => name !== 'Immediate'),
    );
    const baseline = activeResources();
    const running = await startServer({ heartbeatMs: 10 });
    server = running.server;

    const stream = await RawStream.open(`${running.url}/status`, { 'X-Client-Id': CLIENT_A });
    await stream.waitForText('connected');
    server.store.createJob(CLIENT_A, { durationMs: 60_000 });
    server.store.createJob(CLIENT_A, { durationMs: 1 });
    server.faults.setLatency(60_000);
    const delayed = fetch(`${running.url}/status?ids=a`, {
      headers: { 'X-Client-Id': CLIENT_A },
    }).then(
      () => 'answered',
      (error: unknown) => (error as Error).message,
    );
    // Timers: the heartbeat, two job steps and the latency delay.
    const target = server;
    await waitFor('the delayed request to arrive', () => target.stats().timers === 4);

    await server.close();

    expect(server.stats().timers).toBe(0);
    expect(server.stats().openStreams).toBe(0);
    await stream.waitForEnd();
    expect(await delayed).toBe('fetch failed');
    await waitFor('active resources to return to the baseline', () => {
      const now = activeResources();
      return (
        (now.TCPServerWrap ?? 0) <= (baseline.TCPServerWrap ?? 0) &&
        (now.TCPSocketWrap ?? 0) <= (baseline.TCPSocketWrap ?? 0) &&
        (now.Timeout ?? 0) <= (baseline.Timeout ?? 0) + 1 // the waitFor interval itself
      );
    });
  });

  test('close is idempotent and final', async () => {
    server = createMockServer();
    await server.listen();

    const first = server.close();
    const second = server.close();
    expect(second).toBe(first);
    await first;

    await expect(server.listen()).rejects.toThrow('closed');
  });

  test('close without listen resolves', async () => {
    server = createMockServer();
    server.store.createJob(CLIENT_A);

    await server.close();
    expect(server.stats().timers).toBe(0);
  });

  test('listen rejects second call and taken port', async () => {
    server = createMockServer();
    const { port, url } = await server.listen(0, '127.0.0.1');
    expect(url).toBe(`http://127.0.0.1:${port}`);
    await expect(server.listen()).rejects.toThrow('already listening');

    const other = createMockServer();
    try {
      await expect(other.listen(port, '127.0.0.1')).rejects.toThrow('EADDRINUSE');
    } finally {
      await other.close();
    }
  });
});
