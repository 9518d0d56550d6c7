/**
 * Runs the browser demo page (demo/browser) in headless Chromium against the mock server: the built
 * ES module bundle (dist/index.mjs) with the installed rxjs, the browser's native EventSource, and
 * the fault routes that cut the event stream.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { waitFor } from '../helpers/waitFor';
import {
  createJobs,
  type DemoSession,
  errorLine,
  launchChromium,
  modeLog,
  openDemo,
  saveScreenshot,
  waitForCompletedJobs,
  waitForPage,
} from './support';

jest.setTimeout(45_000);

describe('browser demo page', () => {
  let browser: Browser;
  let session: DemoSession | undefined;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterEach(async () => {
    await session?.close();
    session = undefined;
  });

  afterAll(async () => {
    await browser?.close();
  });

  test('native EventSource runs in SSE mode', async () => {
    session = await openDemo(browser, { jobTimeMs: 1500 });
    const { page, demo } = session;
    const eventSourceSource = await page.evaluate(() => String(window.EventSource));

    await createJobs(page, 3, 1500);
    await waitForCompletedJobs(page, 3);

    expect(eventSourceSource).toContain('[native code]');
    expect(await modeLog(page)).toEqual(['SSE']);
    expect(demo.mock.stats().requests.stream).toBe(1);
    expect(await errorLine(page)).toBe('');
    expect(session.pageErrors).toEqual([]);
  });

  test('50 jobs share one event stream', async () => {
    session = await openDemo(browser, { jobTimeMs: 3000 });
    const { page, demo } = session;

    // The first job opens the event stream, which then occupies one of the browser's six HTTP/1.1
    // connections to the origin while the other 49 jobs are created at once.
    await createJobs(page, 1, 3000);
    await waitFor('the event stream to open', () => demo.mock.stats().openStreams === 1);
    const startedAt = Date.now();
    await createJobs(page, 49, 3000);
    await waitForPage(page, '50 listed jobs', () => {
      return document.querySelector<HTMLElement>('#summary')?.dataset.total === '50';
    });
    const creationMs = Date.now() - startedAt;
    const whileRunning = demo.mock.stats();

    await waitForCompletedJobs(page, 50);
    await saveScreenshot(page, 'browser-demo-50-jobs.png');
    // With no job left to watch, the SDK closes the stream.
    await waitFor('the event stream to close', () => demo.mock.stats().openStreams === 0);
    const finished = demo.mock.stats();

    expect(whileRunning.openStreams).toBe(1);
    expect(whileRunning.requests.create).toBe(50);
    expect(whileRunning.responses['201']).toBe(50);
    // Creation waits for no job: it only has to get a connection. 3000 ms is the job run time.
    expect(creationMs).toBeLessThan(3000);
    expect(finished.requests.stream).toBe(1);
    expect(await modeLog(page)).toEqual(['SSE']);
    expect(await errorLine(page)).toBe('');
    expect(session.pageErrors).toEqual([]);
  });

  test('cut stream falls back and returns', async () => {
    session = await openDemo(browser, { jobTimeMs: 5000 });
    const { page, demo } = session;

    await createJobs(page, 5, 5000);
    await waitFor('the event stream to open', () => demo.mock.stats().openStreams === 1);
    await page.fill('#outage', '1500');
    await page.click('#cut-sse');
    await waitForPage(page, 'the transport log SSE, POLL, SSE', () => {
      const modes = Array.from(document.querySelectorAll<HTMLElement>('#mode-log li')).map(
        (entry) => entry.dataset.mode,
      );
      return modes.join(',') === 'SSE,POLL,SSE';
    });
    const afterReturn = demo.mock.stats();

    await waitForCompletedJobs(page, 5);
    const screenshot = await saveScreenshot(page, 'browser-demo.png');

    expect(afterReturn.openStreams).toBe(1);
    // At least the first stream, the one after the outage, and one attempt that was refused.
    expect(afterReturn.requests.stream).toBeGreaterThanOrEqual(3);
    expect(afterReturn.responses['503']).toBeGreaterThanOrEqual(1);
    // Polling served the jobs during the outage.
    expect(afterReturn.requests.batch).toBeGreaterThanOrEqual(1);
    expect(await page.textContent('#mode')).toBe('SSE');
    expect(await modeLog(page)).toEqual(['SSE', 'POLL', 'SSE']);
    expect(existsSync(screenshot)).toBe(true);
    expect(await errorLine(page)).toBe('');
    expect(session.pageErrors).toEqual([]);
  });

  test('page without EventSource polls', async () => {
    session = await openDemo(browser, {
      jobTimeMs: 1500,
      initScript: () => {
        delete (window as { EventSource?: unknown }).EventSource;
      },
    });
    const { page, demo } = session;

    await createJobs(page, 3, 1500);
    await waitForCompletedJobs(page, 3);

    expect(await page.evaluate(() => 'EventSource' in window)).toBe(false);
    expect(await modeLog(page)).toEqual(['POLL']);
    expect(demo.mock.stats().requests.stream).toBeUndefined();
    expect(demo.mock.stats().requests.batch).toBeGreaterThanOrEqual(1);
    expect(await errorLine(page)).toBe('');
    expect(session.pageErrors).toEqual([]);
  });

  test('reload keeps client id and jobs', async () => {
    session = await openDemo(browser, { jobTimeMs: 1500 });
    const { page } = session;
    await createJobs(page, 2, 1500);
    await waitForCompletedJobs(page, 2);
    const clientId = await page.textContent('#client-id');

    await page.reload();
    await waitForPage(page, 'the reloaded page to start', () => {
      return document.body.dataset.ready === 'true';
    });
    await waitForCompletedJobs(page, 2);

    expect(clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.textContent('#client-id')).toBe(clientId);
    expect(await page.evaluate(() => localStorage.getItem('heygen-status-demo.clientId'))).toBe(
      clientId,
    );
    expect(session.pageErrors).toEqual([]);
  });
});
