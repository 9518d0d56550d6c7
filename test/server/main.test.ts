import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { waitFor, withTimeout } from '../helpers/waitFor';

const repositoryRoot = path.resolve(__dirname, '../..');

interface Command {
  child: ChildProcess;
  /** Parsed JSON log lines from stdout, in order. */
  lines: Record<string, unknown>[];
  stdout(): string;
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
  child.stderr?.resume();
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, lines, stdout: () => text, exited };
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

  test('invalid PORT exits with code 1', async () => {
    const command = runMain({ PORT: 'eighty' });
    try {
      expect(await withTimeout(command.exited, 'the process to exit', 15_000)).toBe(1);
      const fatal = command.lines.find((line) => line.msg === 'invalid configuration');
      expect(JSON.stringify(fatal)).toContain('Invalid PORT \\"eighty\\"');
    } finally {
      command.child.kill('SIGKILL');
    }
  }, 30_000);
});
