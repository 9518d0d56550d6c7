// Any unhandled rejection fails the test run: the SDK must report errors through Observables and
// promises that the caller holds, never through a rejection that no caller handles.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});

afterEach(() => {
  const found = unhandled.splice(0);
  if (found.length > 0) {
    throw new Error(`Unhandled promise rejection during this test: ${String(found[0])}`);
  }
});

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
