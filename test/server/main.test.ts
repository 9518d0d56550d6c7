import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { waitFor, withTimeout } from '../helpers/waitFor';

const repositoryRoot = path.resolve(__dirname, '../..');

interface Command {
  child: ChildProcess;
  /** Parsed JSON log lines from stdout, in order. */
  lines: Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Runs `mock-server/main.ts` with tsx and the given environment. Stdout is not a TTY, so logs are JSON. */
function runMain(env: Record<string, string>): Command {
  const child = spawn(process.execPath, ['--import', 'tsx', 'mock-server/main.ts'], {
    cwd: repositoryRoot,
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const lines: Record<string, unknown>[] = [];
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    text += chunk;
    const complete = text.split('\n');
    text = complete.pop() ?? '';
    for (const line of complete) {
      if (line.trim() !== '') {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
  });
  let errorText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    errorText += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, lines, stdout: () => text, stderr: () => errorText, exited };
}

describe('main command', () => {
  test('serves API and shuts down on SIGTERM', async () => {
    const command = runMain({ PORT: '0', JOB_TIME: '40' });
    try {
      const listening = await waitFor(
        'the listening log line',
        () => command.lines.find((line) => line.msg === 'mock server listening'),
        { timeoutMs: 15_000 },
      );
      const url = String(listening.url);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      const created = await fetch(`${url}/create`, {
        method: 'POST',
        headers: { 'X-Client-Id': 'main-command-client' },
      });
      expect(created.status).toBe(201);
      const job = (await created.json()) as { id: string };
      await waitFor('the job to complete with JOB_TIME=40', async () => {
        const response = await fetch(`${url}/status/${job.id}`, {
          headers: { 'X-Client-Id': 'main-command-client' },
        });
        return ((await response.json()) as { status: string }).status === 'completed';
      });

      command.child.kill('SIGTERM');
      expect(await withTimeout(command.exited, 'the process to exit after SIGTERM')).toBe(0);
      const messages = command.lines.map((line) => line.msg);
      expect(messages).toEqual(expect.arrayContaining(['shutting down', 'shutdown complete']));
      expect(JSON.stringify(command.lines)).not.toContain('main-command-client');
    } finally {
      command.child.kill('SIGKILL');
    }
  }, 30_000);

  test.each([
    ['PORT', 'eighty', 'Invalid PORT "eighty": expected an integer from 0 to 65535'],
    [
      'LOG_LEVEL',
      'bogus',
      'Invalid LOG_LEVEL "bogus": expected one of fatal, error, warn, info, debug, trace, silent',
    ],
    ['JOB_TIME', 'abc', 'Invalid JOB_TIME environment variable "abc"'],
    ['CORS_ORIGINS', 'not a url', 'Invalid corsOrigins entry "not a url"'],
  ])(
    'invalid %s exits with one fatal line',
    async (name, value, message) => {
      const command = runMain({ [name]: value });
      try {
        expect(await withTimeout(command.exited, 'the process to exit', 15_000)).toBe(1);
        expect(command.lines).toHaveLength(1);
        const [fatal] = command.lines;
        expect(fatal?.level).toBe(60);
        expect(String(fatal?.msg)).toContain(message);
        expect(fatal).not.toHaveProperty('err');
        expect(command.stdout()).toBe('');
        expect(command.stderr()).toBe('');
      } finally {
        command.child.kill('SIGKILL');
      }
    },
    30_000,
  );

  test('port in use exits with one fatal line', async () => {
    const occupant = createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    const { port } = occupant.address() as AddressInfo;
    const command = runMain({ PORT: String(port) });
    try {
      expect(await withTimeout(command.exited, 'the process to exit', 15_000)).toBe(1);
      const fatal = command.lines.filter((line) => line.level === 60);
      expect(fatal).toHaveLength(1);
      expect(String(fatal[0]?.msg)).toContain(`Port ${port} on 127.0.0.1 is already in use`);
      expect(fatal[0]).not.toHaveProperty('err');
      expect(command.stderr()).toBe('');
    } finally {
      command.child.kill('SIGKILL');
      await new Promise((resolve) => occupant.close(resolve));
    }
  }, 30_000);
});
