import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

describe('API reference', () => {
  let outDir: string;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), 'heygen-status-docs-'));
  });

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  // typedoc.json turns on validation.notDocumented and treatWarningsAsErrors, so a public symbol
  // without a doc comment makes typedoc exit with an error and this test fail with its output.
  test('typedoc builds without warnings', async () => {
    const typedoc = path.join(root, 'node_modules/typedoc/bin/typedoc');
    await run(process.execPath, [typedoc, '--out', outDir], { cwd: root }).catch(
      (error: { stdout?: string; stderr?: string }) => {
        throw new Error(`typedoc failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
      },
    );

    expect(existsSync(path.join(outDir, 'index.html'))).toBe(true);
    expect(existsSync(path.join(outDir, 'classes/HeyGenAPI.html'))).toBe(true);
    expect(existsSync(path.join(outDir, 'enums/HeyGenStatusListenerMode.html'))).toBe(true);
  }, 60_000);
});
