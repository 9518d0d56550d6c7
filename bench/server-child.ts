/**
 * Entry point of the bench's server child process (see `server-process.ts`): runs the mock server
 * on 127.0.0.1 behind a handler that counts requests and bytes per client id, and executes the
 * parent's commands from the IPC channel.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createMockServer, type MockServer } from '../mock-server';
import {
  type BenchServerOptions,
  type ClientTraffic,
  type CommandMessage,
  emptyTraffic,
  type ReplyMessage,
  type RouteKind,
  type ServerCommands,
} from './server-process';

/** Counts requests, bytes and open streams per client id. */
class TrafficCounter {
  private readonly clients = new Map<string, ClientTraffic>();
  /** Socket byte counters at the end of the socket's previous response. */
  private readonly marks = new WeakMap<Socket, { read: number; written: number }>();

  track(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const header = req.headers['x-client-id'];
    const clientId = typeof header === 'string' ? header : (url.searchParams.get('uuid') ?? '');
    const kind = routeKind(req, url.pathname);
    const traffic = this.trafficOf(clientId);
    traffic.requests[kind] += 1;
    if (kind === 'stream') {
      traffic.openStreams += 1;
      traffic.maxOpenStreams = Math.max(traffic.maxOpenStreams, traffic.openStreams);
    }

    // Clients send one request at a time on a connection (no pipelining), so the bytes a socket
    // read and wrote since its previous response ended belong to this request and its response.
    const socket = req.socket;
    res.once('close', () => {
      const mark = this.marks.get(socket) ?? { read: 0, written: 0 };
      traffic.bytes[kind] += socket.bytesRead - mark.read + (socket.bytesWritten - mark.written);
      this.marks.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
      if (kind === 'stream') traffic.openStreams -= 1;
    });
  }

  snapshot(clientIds: readonly string[]): Record<string, ClientTraffic> {
    const result: Record<string, ClientTraffic> = {};
    for (const clientId of clientIds) {
      const traffic = this.clients.get(clientId);
      if (traffic !== undefined) result[clientId] = structuredClone(traffic);
    }
    return result;
  }

  private trafficOf(clientId: string): ClientTraffic {
    let traffic = this.clients.get(clientId);
    if (traffic === undefined) {
      traffic = emptyTraffic();
      this.clients.set(clientId, traffic);
    }
    return traffic;
  }
}

function routeKind(req: IncomingMessage, path: string): RouteKind {
  if (req.method === 'POST' && path === '/create') return 'create';
  if (path === '/status') {
    const accept = (req.headers.accept ?? '').toLowerCase();
    return accept.includes('text/event-stream') ? 'stream' : 'batch';
  }
  if (path.startsWith('/status/')) return 'status';
  return 'other';
}

type Handlers = {
  [C in keyof ServerCommands]: (
    args: ServerCommands[C]['args'],
  ) => ServerCommands[C]['result'] | Promise<ServerCommands[C]['result']>;
};

function commandHandlers(mock: MockServer, traffic: TrafficCounter): Handlers {
  return {
    createJobs: ({ clientIds, perClient, durationMs }) =>
      clientIds.map((clientId) => {
        const ids: string[] = [];
        for (let i = 0; i < perClient; i += 1)
          ids.push(mock.store.createJob(clientId, { durationMs }).id);
        return ids;
      }),
    traffic: ({ clientIds }) => traffic.snapshot(clientIds),
    cutStreams: ({ refuseMs }) => {
      // Refuse first, so that the reconnection the drop provokes already meets the refusal.
      mock.faults.refuseStreams(refuseMs);
      const cutAt = Date.now();
      mock.faults.dropStreams();
      return { cutAt, refuseUntil: cutAt + refuseMs };
    },
    memory: () => {
      globalThis.gc?.();
      globalThis.gc?.();
      const { rss, heapUsed, external } = process.memoryUsage();
      return { rss, heapUsed, external };
    },
    stats: () => mock.stats(),
  };
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as BenchServerOptions;
  const mock = createMockServer(options);
  const traffic = new TrafficCounter();

  // The bench runs its own HTTP server around the app, because MockServer.listen() keeps its server
  // private and the counters need each request's socket.
  const server = createServer((req, res) => {
    traffic.track(req, res);
    mock.app(req, res);
  });
  // With Node's default keep-alive timeout of 5 s, a client whose event loop is busy can reuse an idle
  // connection just as the server closes it, and a POST then fails with "other side closed". A longer
  // timeout keeps that race out of the figures.
  server.keepAliveTimeout = 60_000;
  const url = await listen(server);
  const handlers = commandHandlers(mock, traffic);

  process.on('message', (message: CommandMessage) => {
    const handler = handlers[message.command] as (args: unknown) => unknown;
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => reply({ id: message.id, result }),
        (error: unknown) => reply({ id: message.id, error: String(error) }),
      );
  });
  process.once('disconnect', () => {
    void mock.close().then(() => {
      server.closeAllConnections();
      server.close(() => process.exit(0));
    });
  });
  reply({ ready: url });
}

function reply(message: ReplyMessage): void {
  process.send?.(message);
}

main().catch((error: unknown) => {
  console.error('Bench server child process failed to start:', error);
  process.exit(1);
});
