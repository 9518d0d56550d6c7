import { createMockServer, type MockServer, type MockServerOptions } from '../../../mock-server';

/** A listening mock server and its base URL. */
export interface RunningServer {
  server: MockServer;
  url: string;
}

/** Creates a mock server and listens on a free loopback port. Call `server.close()` after the test. */
export async function startServer(options: MockServerOptions = {}): Promise<RunningServer> {
  const server = createMockServer(options);
  const { url } = await server.listen(0, '127.0.0.1');
  return { server, url };
}

/** Client ids that pass validation, one per simulated client. */
export const CLIENT_A = 'client-a.0123456789';
export const CLIENT_B = 'client-b.9876543210';
