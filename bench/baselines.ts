/**
 * Naive clients that the SDK is compared with. They talk to the same mock server, and create their
 * jobs with the same `POST /create`.
 */
import { EventSource } from 'eventsource';
import type { Job } from '../src';
import { isTerminalJob } from './support';

/** Creates one job with plain `fetch`, and resolves with its id. */
export async function createJobOverHttp(
  url: string,
  clientId: string,
  durationMs: number,
): Promise<string> {
  const response = await fetch(`${url}/create`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Client-Id': clientId },
    body: JSON.stringify({ durationMs }),
  });
  if (response.status !== 201) {
    throw new Error(`POST /create failed with HTTP ${response.status}: ${await response.text()}`);
  }
  return ((await response.json()) as Job).id;
}

/**
 * Baseline (a): a `setInterval` that sends `GET /status/:id` every `intervalMs` (the first request
 * after one interval, as `setInterval` fires) until the job is terminal. Resolves when it is.
 */
export function pollJob(
  url: string,
  clientId: string,
  jobId: string,
  intervalMs: number,
): Promise<void> {
  return new Promise((resolve) => {
    let inFlight = false;
    const timer = setInterval(() => {
      if (inFlight) return;
      inFlight = true;
      fetch(`${url}/status/${jobId}`, { headers: { 'X-Client-Id': clientId } })
        .then(async (response) => {
          const job = (await response.json()) as Job;
          if (response.ok && isTerminalJob(job)) {
            clearInterval(timer);
            resolve();
          }
        })
        .catch(() => {
          // A naive client ignores a failed request and tries again at the next tick.
        })
        .finally(() => {
          inFlight = false;
        });
    }, intervalMs);
  });
}

/**
 * Baseline (b): an EventSource of its own for one job. Each stream carries every job of the client
 * (that is the protocol), so it filters for its job, and closes at the job's terminal status.
 */
export function streamJob(url: string, clientId: string, jobId: string): Promise<void> {
  const source = new EventSource(`${url}/status?uuid=${encodeURIComponent(clientId)}`);
  return new Promise((resolve) => {
    source.addEventListener('status', (event) => {
      const job = JSON.parse(event.data) as Job;
      if (job.id === jobId && isTerminalJob(job)) {
        source.close();
        resolve();
      }
    });
  });
}
