import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { MockServerOptions, MockServerStats } from '../mock-server';

/** Route kinds that the bench counts traffic by. */
export type RouteKind = 'create' | 'status' | 'batch' | 'stream' | 'other';

/** Traffic of one client id, as the server counted it. */
export interface ClientTraffic {
  requests: Record<RouteKind, number>;
  /**
   * Bytes by route kind, both directions and headers included: the socket's byte counters between
   * the end of one response and the end of the next.
   */
  bytes: Record<RouteKind, number>;
  openStreams: number;
  maxOpenStreams: number;
}

/** Memory of the server process after a full garbage collection, in bytes. */
export interface MemorySample {
  rss: number;
  heapUsed: number;
  external: number;
}

/** Jobs to create in the store directly, without HTTP: `perClient` jobs for each client id. */
export interface CreateJobsRequest {
  clientIds: string[];
  perClient: number;
  durationMs: number;
}

/** Commands of the server child process, with their argument and result types. */
export interface ServerCommands {
  /** Returns the ids of the new jobs, one array per client id. */
  createJobs: { args: CreateJobsRequest; result: string[][] };
  traffic: { args: { clientIds: string[] }; result: Record<string, ClientTraffic> };
  /** Refuses new streams for `refuseMs`, then drops every open stream, in one step. */
  cutStreams: { args: { refuseMs: number }; result: { cutAt: number; refuseUntil: number } };
  memory: { args: null; result: MemorySample };
  stats: { args: null; result: MockServerStats };
}

export type CommandName = keyof ServerCommands;

export interface CommandMessage {
  id: number;
  command: CommandName;
  args: unknown;
}

export type ReplyMessage =
  { id: number; result: unknown } | { id: number; error: string } | { ready: string };

/**
 * Options of the bench's mock server. The child always uses the server's silent logger, because a
 * logger cannot cross the process boundary.
 */
export type BenchServerOptions = Omit<MockServerOptions, 'logger'>;

/** Time allowed for the child to compile, start and listen. */
const START_TIMEOUT_MS = 20_000;

/** Time allowed for one command. `memory` runs two full collections of a heap that can be large. */
const COMMAND_TIMEOUT_MS = 30_000;

/**
 * The mock server running in a child Node.js process on 127.0.0.1, so that its CPU time and memory
 * stay apart from the client's. The child counts the traffic of each client id, and takes commands
 * over the IPC channel.
 */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }
  >();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (message: ReplyMessage) => this.handleReply(message));
    child.on('exit', (code, signal) => {
      const error = new Error(`Server child process exited (code ${code}, signal ${signal})`);
      for (const { reject, timer } of this.pending.values()) {
        clearTimeout(timer);
        reject(error);
      }
      this.pending.clear();
    });
  }

  /**
   * Forks the child with `tsx` and `--expose-gc`, and resolves once it listens. The child inherits the
   * `--cpu-prof` flags of this process, so one command profiles client and server.
   */
  static start(options: BenchServerOptions): Promise<ServerProcess> {
    const profiling = process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'));
    const child = fork(join(__dirname, 'server-child.ts'), [JSON.stringify(options)], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...profiling],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill();
        reject(new Error(`Server child process did not listen within ${START_TIMEOUT_MS} ms`));
      }, START_TIMEOUT_MS);
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`Server child process exited with code ${code} before it listened`));
      };
      child.once('exit', onExit);
      child.once('message', (message: ReplyMessage) => {
        clearTimeout(timer);
        child.off('exit', onExit);
        if ('ready' in message) resolve(new ServerProcess(child, message.ready));
        else reject(new Error(`Server child process sent ${JSON.stringify(message)} first`));
      });
    });
  }

  createJobs(request: CreateJobsRequest): Promise<string[][]> {
    return this.send('createJobs', request);
  }

  traffic(clientIds: string[]): Promise<Record<string, ClientTraffic>> {
    return this.send('traffic', { clientIds });
  }

  /** Traffic of one client id, with every counter at zero when it sent no request. */
  async trafficOf(clientId: string): Promise<ClientTraffic> {
    const traffic = await this.traffic([clientId]);
    return traffic[clientId] ?? emptyTraffic();
  }

  cutStreams(refuseMs: number): Promise<{ cutAt: number; refuseUntil: number }> {
    return this.send('cutStreams', { refuseMs });
  }

  memory(): Promise<MemorySample> {
    return this.send('memory', null);
  }

  stats(): Promise<MockServerStats> {
    return this.send('stats', null);
  }

  /** Closes the server and ends the child process. */
  stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.disconnect();
    });
  }

  private send<C extends CommandName>(
    command: C,
    args: ServerCommands[C]['args'],
  ): Promise<ServerCommands[C]['result']> {
    const id = this.nextId;
    this.nextId += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`Server command ${command} timed out after ${COMMAND_TIMEOUT_MS} ms`));
      }, COMMAND_TIMEOUT_MS);
      this.pending.set(id, {
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      const message: CommandMessage = { id, command, args };
      this.child.send(message);
    });
  }

  private handleReply(message: ReplyMessage): void {
    if ('ready' in message) return;
    const entry = this.pending.get(message.id);
    if (entry === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(entry.timer);
    if ('error' in message) entry.reject(new Error(`Server child process: ${message.error}`));
    else entry.resolve(message.result);
  }
}

export function emptyTraffic(): ClientTraffic {
  const zero = (): Record<RouteKind, number> => ({
    create: 0,
    status: 0,
    batch: 0,
    stream: 0,
    other: 0,
  });
  return { requests: zero(), bytes: zero(), openStreams: 0, maxOpenStreams: 0 };
}
