import { connect } from 'node:net';
import type { MockServer } from '../../mock-server';
import { withTimeout } from '../helpers/waitFor';
import { CLIENT_A, startServer } from './support/server';

let server: MockServer;
let port: number;

beforeEach(async () => {
  const running = await startServer();
  server = running.server;
  port = Number(new URL(running.url).port);
});

afterEach(async () => {
  await server.close();
});

/** Writes raw bytes to the server and resolves with everything it sends until it closes. */
function exchange(raw: string): Promise<string> {
  const received = new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(raw);
    });
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  return withTimeout(received, 'the server to close the raw connection');
}

function splitResponse(text: string): { head: string; body: string } {
  const end = text.indexOf('\r\n\r\n');
  return { head: text.slice(0, end), body: text.slice(end + 4) };
}

describe('raw HTTP errors', () => {
  test('malformed request line gets JSON 400', async () => {
    const text = await exchange('THIS IS NOT HTTP\r\n\r\n');

    const { head, body } = splitResponse(text);
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('Content-Type: application/json');
    expect(head).toContain('Connection: close');
    expect((JSON.parse(body) as { error: string }).error).toContain('Malformed HTTP request');
  });

  test('oversized headers get JSON 431', async () => {
    const text = await exchange(
      `GET /status?ids=a HTTP/1.1\r\nHost: x\r\nX-Filler: ${'y'.repeat(20_000)}\r\n\r\n`,
    );

    const { head, body } = splitResponse(text);
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect((JSON.parse(body) as { error: string }).error).toContain('headers too large');
  });

  test('garbage after a request closes after its response', async () => {
    const text = await exchange(
      `GET /status?ids=a HTTP/1.1\r\nHost: x\r\nX-Client-Id: ${CLIENT_A}\r\n\r\n{"unframed": true}`,
    );

    const responses = text.match(/HTTP\/1\.1 \d{3}/g);
    expect(responses).toEqual(['HTTP/1.1 200']);
    const { body } = splitResponse(text);
    expect(JSON.parse(body)).toEqual({ jobs: [], missing: ['a'] });
  });

  test('invalid Content-Length gets 400', async () => {
    const text = await exchange(
      `POST /create HTTP/1.1\r\nHost: x\r\nX-Client-Id: ${CLIENT_A}\r\nContent-Length: abc\r\n\r\n`,
    );

    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(server.stats().jobs).toBe(0);
  });
});
