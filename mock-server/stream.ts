import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { shortClientId } from './logger';
import { ReplayLog } from './replayLog';
import type { JobStore } from './store';
import type { Job } from '../src/types';

export interface StreamHubOptions {
  heartbeatMs: number;
  retryMs: number;
  replayLogSize: number;
  logger: Logger;
}

/** Reason a stream ended, as logged in the `stream closed` line. */
export type StreamCloseReason =
  'client disconnected' | 'dropped by fault' | 'server closing' | 'write failed' | 'slow consumer';

/**
 * Bytes queued on one stream, unread by the client, above which the client must catch up: when the
 * queue has not drained within `SLOW_CONSUMER_MS`, the server destroys the stream, and the client's
 * reconnect gets a replay or a snapshot. A burst (the snapshot of a client with 10,000 jobs is about
 * 2 MB) may pass the mark as long as the client keeps reading.
 */
const SOFT_MAX_BUFFERED_BYTES = 1024 * 1024;

/** Time in ms that a queue above `SOFT_MAX_BUFFERED_BYTES` has to drain. */
const SLOW_CONSUMER_MS = 10_000;

/** Bytes queued on one stream past which the server destroys it at once, to bound its memory. */
const HARD_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Headers that stop proxies from buffering or compressing the stream (nginx reads X-Accel-Buffering). */
const SSE_HEADERS = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
} as const;

interface Connection {
  readonly id: string;
  readonly clientId: string;
  readonly res: ServerResponse;
  readonly log: Logger;
  readonly openedAt: number;
  eventsSent: number;
  closed: boolean;
  /** Runs while the queue is above `SOFT_MAX_BUFFERED_BYTES` and has not drained. */
  drainTimer?: ReturnType<typeof setTimeout>;
}

/** Stream state of one client: its event sequence, replay log and open connections. */
interface Channel {
  readonly log: ReplayLog;
  readonly connections: Set<Connection>;
}

/**
 * Formats one heartbeat: a comment, which keeps proxies from closing an idle connection, then a
 * `heartbeat` event with the server time, because EventSource never exposes comments. The event
 * has no `id:` line, so the client's last event id stays that of the last status event.
 */
export function formatHeartbeat(now: Date): string {
  return `: heartbeat\nevent: heartbeat\ndata: ${now.toISOString()}\n\n`;
}

/** Formats one SSE `status` event. JSON.stringify escapes newlines, so `data:` is one line. */
export function formatStatusEvent(sequence: number, job: Job): string {
  return `id: ${sequence}\nevent: status\ndata: ${JSON.stringify(job)}\n\n`;
}

/**
 * Event streams of every client. The hub listens to the job store once and fans each change
 * out to the client's connections, so the number of store listeners does not grow with the
 * number of streams. One heartbeat interval serves every connection and runs only while at
 * least one stream is open.
 */
export class StreamHub {
  readonly #store: JobStore;
  readonly #options: StreamHubOptions;
  readonly #channels = new Map<string, Channel>();
  readonly #connections = new Set<Connection>();
  #heartbeat: NodeJS.Timeout | undefined;
  #connectionCount = 0;
  /** Highest sequence number of any deleted channel, so a new channel never reuses an id. */
  #sequenceFloor = 0;
  #closed = false;

  constructor(store: JobStore, options: StreamHubOptions) {
    this.#store = store;
    this.#options = options;
    store.on('change', this.#onChange);
    store.on('evict', this.#onEvict);
  }

  get openStreams(): number {
    return this.#connections.size;
  }

  /** Number of clients with stream state (sequence number and replay log). */
  get clientCount(): number {
    return this.#channels.size;
  }

  /** Number of timers the hub holds: the heartbeat interval while any stream is open. */
  get timerCount(): number {
    return this.#heartbeat === undefined ? 0 : 1;
  }

  /** Returns the number of open streams of the client. */
  streamsOf(clientId: string): number {
    return this.#channels.get(clientId)?.connections.size ?? 0;
  }

  /**
   * Starts an event stream on `res`: headers, `retry:` and the `: connected` comment at once,
   * then the replay after `lastEventId` when the log still contains it, else the snapshot of every
   * job of the client. The caller checks the client id and the stream limits first.
   */
  open(res: ServerResponse, clientId: string, lastEventId: number | undefined, log: Logger): void {
    if (this.#closed) {
      res.destroy();
      return;
    }

    this.#connectionCount += 1;
    const connection: Connection = {
      id: `conn-${this.#connectionCount}`,
      clientId,
      res,
      log,
      openedAt: Date.now(),
      eventsSent: 0,
      closed: false,
    };
    const channel = this.#channelFor(clientId);

    // Registration, backlog and first writes run synchronously, so no change can fall between
    // the backlog and the fan-out.
    channel.connections.add(connection);
    this.#connections.add(connection);
    this.#startHeartbeat();
    res.on('close', () => {
      this.#remove(connection, 'client disconnected');
    });
    res.on('error', (error) => {
      this.#remove(connection, 'write failed', error);
    });

    res.writeHead(200, SSE_HEADERS);
    this.#write(connection, `retry: ${this.#options.retryMs}\n: connected ${connection.id}\n\n`);

    const replay = lastEventId === undefined ? undefined : channel.log.framesAfter(lastEventId);
    const backlog = replay ?? this.#snapshot(clientId, channel.log.lastSequence);
    if (backlog.length > 0 && this.#write(connection, backlog.join(''))) {
      connection.eventsSent += backlog.length;
    }

    log.info(
      {
        connectionId: connection.id,
        client: shortClientId(clientId),
        start: replay === undefined ? 'snapshot' : 'replay',
        lastEventId,
        backlogEvents: backlog.length,
      },
      'stream opened',
    );
  }

  /** Ends every open stream at once and returns how many were ended. */
  dropAll(): number {
    const connections = [...this.#connections];
    for (const connection of connections) {
      this.#remove(connection, 'dropped by fault');
    }
    return connections.length;
  }

  /** Ends every stream, stops the heartbeat and detaches from the store. Idempotent. */
  close(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    for (const connection of [...this.#connections]) {
      this.#remove(connection, 'server closing');
    }
    this.#stopHeartbeat();
    this.#store.off('change', this.#onChange);
    this.#store.off('evict', this.#onEvict);
    this.#channels.clear();
  }

  readonly #onChange = (clientId: string, job: Job): void => {
    const channel = this.#channelFor(clientId);
    const frame = formatStatusEvent(channel.log.lastSequence + 1, job);
    channel.log.append(frame);

    for (const connection of channel.connections) {
      if (this.#write(connection, frame)) {
        connection.eventsSent += 1;
      }
    }
  };

  readonly #onEvict = (clientId: string): void => {
    this.#deleteChannelIfUnused(clientId);
  };

  #snapshot(clientId: string, sequence: number): string[] {
    return this.#store.list(clientId).map((job) => formatStatusEvent(sequence, job));
  }

  #channelFor(clientId: string): Channel {
    let channel = this.#channels.get(clientId);
    if (channel === undefined) {
      // Numbering starts at the clock in ms, so ids that a client kept from an earlier server
      // process are lower than every id of this one and get the snapshot instead of a replay.
      // NOTE: this fails if the earlier process sent one client more events than it ran ms.
      const firstSequence = Math.max(Date.now(), this.#sequenceFloor);
      channel = {
        log: new ReplayLog(this.#options.replayLogSize, firstSequence),
        connections: new Set(),
      };
      this.#channels.set(clientId, channel);
    }
    return channel;
  }

  #deleteChannelIfUnused(clientId: string): void {
    const channel = this.#channels.get(clientId);
    if (channel === undefined || channel.connections.size > 0) {
      return;
    }
    if (this.#store.countFor(clientId) > 0) {
      return;
    }
    this.#sequenceFloor = Math.max(this.#sequenceFloor, channel.log.lastSequence);
    this.#channels.delete(clientId);
  }

  /** Writes to an open stream and returns whether the text was queued for sending. */
  #write(connection: Connection, text: string): boolean {
    if (connection.closed) {
      return false;
    }
    const { res } = connection;
    if (res.destroyed || res.writableEnded) {
      this.#remove(connection, 'write failed');
      return false;
    }

    res.write(text);
    if (res.writableLength > HARD_MAX_BUFFERED_BYTES) {
      this.#remove(connection, 'slow consumer');
      return false;
    }
    if (res.writableLength > SOFT_MAX_BUFFERED_BYTES && connection.drainTimer === undefined) {
      connection.drainTimer = setTimeout(
        () => this.#remove(connection, 'slow consumer'),
        SLOW_CONSUMER_MS,
      );
      res.once('drain', () => {
        clearTimeout(connection.drainTimer);
        connection.drainTimer = undefined;
      });
    }
    return true;
  }

  #remove(connection: Connection, reason: StreamCloseReason, error?: Error): void {
    if (connection.closed) {
      return;
    }
    connection.closed = true;
    clearTimeout(connection.drainTimer);

    this.#connections.delete(connection);
    this.#channels.get(connection.clientId)?.connections.delete(connection);
    this.#deleteChannelIfUnused(connection.clientId);
    if (this.#connections.size === 0) {
      this.#stopHeartbeat();
    }

    // Ending lets the client read what is queued. A stream that failed or stopped reading
    // is destroyed instead, because its queue would never drain.
    if (reason === 'write failed' || reason === 'slow consumer') {
      connection.res.destroy();
    } else if (!connection.res.writableEnded) {
      connection.res.end();
    }

    connection.log.info(
      {
        connectionId: connection.id,
        client: shortClientId(connection.clientId),
        reason,
        err: error,
        durationMs: Date.now() - connection.openedAt,
        eventsSent: connection.eventsSent,
      },
      'stream closed',
    );
  }

  #startHeartbeat(): void {
    if (this.#heartbeat !== undefined) {
      return;
    }
    this.#heartbeat = setInterval(() => {
      const frame = formatHeartbeat(new Date());
      for (const connection of this.#connections) {
        this.#write(connection, frame);
      }
    }, this.#options.heartbeatMs);
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }
}
