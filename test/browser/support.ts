import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { type BrowserDemo, startBrowserDemo } from '../../demo/browser/serve';

/** Path of the system Chromium (Debian: `apt-get install chromium`), because playwright-core ships none. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Folder of screenshots and other files that a person may want to look at after a run. */
export const ARTIFACTS_DIR = path.resolve(__dirname, '../../test-artifacts');

/** Limit of each wait on the page, in ms: below the Jest timeout of the browser tests. */
export const PAGE_WAIT_MS = 15_000;

/**
 * Query string of the demo page: polls every 250 ms and retries SSE after at most 1 s, so that a
 * fallback and the return to SSE take a few seconds instead of the SDK's defaults.
 */
export const FAST_TIMINGS = '?pollInterval=250&sseMaxDelay=1000';

/** Starts headless Chromium, or fails with the command that installs it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it with "apt-get install -y chromium", ` +
        'or set CHROMIUM_PATH to a Chromium or Chrome executable',
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A demo server, a fresh browser context (empty localStorage) and a page on it. */
export interface DemoSession {
  demo: BrowserDemo;
  context: BrowserContext;
  page: Page;
  /** Uncaught exceptions of the page, in order. */
  pageErrors: Error[];
  close(): Promise<void>;
}

export interface DemoSessionOptions {
  /** Default job run time of the mock server, in ms. */
  jobTimeMs: number;
  /** Script that runs in the page before any of its own scripts. */
  initScript?: () => void;
}

/** Starts a demo server, opens the page in a new browser context and waits for the page to start. */
export async function openDemo(
  browser: Browser,
  options: DemoSessionOptions,
): Promise<DemoSession> {
  const demo = await startBrowserDemo({ jobTimeMs: options.jobTimeMs });
  const context = await browser.newContext();
  if (options.initScript !== undefined) await context.addInitScript(options.initScript);
  const page = await context.newPage();
  page.setDefaultTimeout(PAGE_WAIT_MS);
  const pageErrors: Error[] = [];
  page.on('pageerror', (error) => pageErrors.push(error));

  const close = async (): Promise<void> => {
    await context.close();
    await demo.close();
  };
  try {
    await page.goto(`${demo.url}/${FAST_TIMINGS}`);
    await waitForPage(page, 'the demo page to start', () => document.body.dataset.ready === 'true');
  } catch (error) {
    await close();
    throw error;
  }
  return { demo, context, page, pageErrors, close };
}

/**
 * Waits until `condition(arg)` returns true in the page. On timeout it fails with `description` and
 * the page's summary line and transport log, instead of Playwright's bare timeout message.
 */
export async function waitForPage(
  page: Page,
  description: string,
  condition: (arg: number) => boolean,
  arg = 0,
): Promise<void> {
  try {
    await page.waitForFunction(condition, arg, { timeout: PAGE_WAIT_MS });
  } catch (error) {
    const state = await pageState(page).catch(() => 'unavailable');
    throw new Error(
      `Timed out after ${PAGE_WAIT_MS} ms waiting for ${description}; page: ${state}`,
      {
        cause: error,
      },
    );
  }
}

/** Reads the summary, transport log and error line of the page, for failure messages. */
async function pageState(page: Page): Promise<string> {
  return page.evaluate(() => {
    const text = (selector: string): string =>
      document.querySelector(selector)?.textContent?.trim() ?? '';
    const modes = Array.from(document.querySelectorAll<HTMLElement>('#mode-log li')).map(
      (entry) => entry.dataset.mode,
    );
    return `summary "${text('#summary')}", modes [${modes.join(', ')}], error "${text('#error')}"`;
  });
}

/** Fills the job form and clicks "Create jobs". */
export async function createJobs(page: Page, count: number, durationMs: number): Promise<void> {
  await page.fill('#job-count', String(count));
  await page.fill('#job-duration', String(durationMs));
  await page.click('#create');
}

/** Waits until the page lists `total` jobs and shows every one of them as completed. */
export async function waitForCompletedJobs(page: Page, total: number): Promise<void> {
  await waitForPage(
    page,
    `${total} completed jobs`,
    (expected) => {
      const summary = document.querySelector<HTMLElement>('#summary');
      return (
        summary?.dataset.total === String(expected) &&
        summary.dataset.completed === String(expected)
      );
    },
    total,
  );
}

/** Reads the transports in the page's transport log, oldest first. */
export async function modeLog(page: Page): Promise<string[]> {
  return page.$$eval('#mode-log li', (entries) =>
    entries.map((entry) => (entry as HTMLElement).dataset.mode ?? ''),
  );
}

/** Reads the text of the page's error line, or `''` while the line is hidden. */
export async function errorLine(page: Page): Promise<string> {
  return page.$eval('#error', (element) =>
    (element as HTMLElement).hidden ? '' : (element.textContent ?? ''),
  );
}

/** Saves a full-page screenshot in {@link ARTIFACTS_DIR} and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, name);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
