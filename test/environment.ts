import { createHook } from 'node:async_hooks';
import type { Circus } from '@jest/types';
import { TestEnvironment } from 'jest-environment-node';

/**
 * async_hooks types of the resources that a test file must close: timers, TCP sockets and servers,
 * child processes and pipes. Each keeps a Node.js process alive while it is referenced, so one that an
 * SDK leaves behind keeps an application from exiting.
 */
const CHECKED_TYPES = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'PROCESSWRAP', 'PIPEWRAP']);

/** Time that a file's resources get to close after its last hook, in ms. */
const RELEASE_WAIT_MS = 2000;

/** Time between two checks while resources close, in ms. */
const RELEASE_POLL_MS = 20;

/** What async_hooks passes as the resource of a timer or handle. */
interface AsyncResource {
  hasRef?: () => boolean;
}

/** Records the checked resources that are created while recording and not yet destroyed. */
class ResourceTracker {
  private readonly live = new Map<number, { type: string; resource: AsyncResource }>();
  private recording = false;
  private readonly hook = createHook({
    init: (asyncId, type, _triggerAsyncId, resource: AsyncResource) => {
      if (this.recording && CHECKED_TYPES.has(type)) this.live.set(asyncId, { type, resource });
    },
    destroy: (asyncId) => {
      this.live.delete(asyncId);
    },
  });

  start(): void {
    this.live.clear();
    this.recording = true;
    this.hook.enable();
  }

  /** Stops recording new resources; the ones recorded still leave the list when destroyed. */
  stopRecording(): void {
    this.recording = false;
  }

  stop(): void {
    this.hook.disable();
    this.recording = false;
    this.live.clear();
  }

  /** Lists the recorded resources that are still open and referenced, such as `Timeout x2`. */
  openResources(): string[] {
    const counts = new Map<string, number>();
    for (const { type, resource } of this.live.values()) {
      // An unreferenced timer or handle does not keep the process alive.
      if (resource.hasRef?.() === false) continue;
      counts.set(type, (counts.get(type) ?? 0) + 1);
    }
    return [...counts].map(([type, count]) => `${type} x${count}`);
  }
}

/**
 * The Node.js test environment plus open-handle detection that works with parallel workers.
 *
 * Each worker process runs one test file at a time. From the file's start, the environment records
 * every timer, socket, server and child process that is created (with async_hooks), and after the
 * file's last hook it gives them {@link RELEASE_WAIT_MS} to close: a server's connections and undici's
 * sockets close asynchronously. The file fails when one is still open and referenced. Unlike Jest's
 * `--detectOpenHandles`, this does not force the files to run one after another in one process.
 */
export default class LeakCheckEnvironment extends TestEnvironment {
  private readonly tracker = new ResourceTracker();

  async handleTestEvent(event: Circus.Event, state: Circus.State): Promise<void> {
    if (event.name === 'run_start') {
      this.tracker.start();
      return;
    }
    if (event.name !== 'run_finish') return;

    this.tracker.stopRecording();
    const deadline = Date.now() + RELEASE_WAIT_MS;
    let open = this.tracker.openResources();
    while (open.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, RELEASE_POLL_MS));
      open = this.tracker.openResources();
    }
    this.tracker.stop();
    if (open.length > 0) {
      state.unhandledErrors.push(
        new Error(
          `Open handles ${RELEASE_WAIT_MS} ms after the last hook of this file: ${open.join(', ')}. ` +
            'Close every server, client, socket, timer and child process that the tests start.',
        ),
      );
    }
  }
}
