/**
 * Runs one HeyGenAPI client in a process of its own, so that a test can see when the process exits.
 * Node.js exits once no timer, socket or server keeps the event loop alive.
 *
 * Usage: `node --import tsx child-client.ts '<ChildConfig as JSON>'`. The script prints one line per
 * step on stdout: `acted` after it unsubscribed or disposed, `final <status>` when the job ended.
 */
import { EventSource } from 'eventsource';
import type { Subscription } from 'rxjs';
import { HeyGenAPI, HeyGenStatusListenerMode, type SseRetryOptions } from '../../../src';

/** What the child does. */
export interface ChildConfig {
  readonly url: string;
  readonly mode: 'SSE' | 'POLL';
  readonly fallback?: boolean;
  readonly pollInterval?: number;
  readonly sseRetry?: SseRetryOptions;
  readonly jobId: string;
  /**
   * `unsubscribe` or `dispose`: subscribe, then do that once a warning that contains `afterWarning`
   * was logged (a retry is pending then). `wait`: wait for the job with `waitForJob` and print its
   * final status.
   */
  readonly action: 'unsubscribe' | 'dispose' | 'wait';
  readonly afterWarning?: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
let subscription: Subscription | undefined;
let acted = false;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function act(): void {
  if (acted) return;
  acted = true;
  if (config.action === 'dispose') heygen.dispose();
  else subscription?.unsubscribe();
  print('acted');
}

const heygen = new HeyGenAPI({
  url: config.url,
  mode: HeyGenStatusListenerMode[config.mode],
  EventSource,
  fallback: config.fallback,
  pollInterval: config.pollInterval,
  sseRetry: config.sseRetry,
  logging: {
    debug: () => undefined,
    info: () => undefined,
    warn: (message) => {
      // Acting on the next turn of the event loop, as an application would, leaves the retry
      // timer that the SDK just set pending.
      if (config.afterWarning !== undefined && message.includes(config.afterWarning)) {
        setImmediate(act);
      }
    },
    error: () => undefined,
  },
});

if (config.action === 'wait') {
  heygen.waitForJob(config.jobId).then(
    (job) => print(`final ${job.status}`),
    (error: unknown) => print(`final error ${(error as Error).name}`),
  );
} else {
  subscription = heygen.jobStatus$(config.jobId).subscribe({
    error: (error: unknown) => print(`error ${(error as Error).name}`),
  });
}
