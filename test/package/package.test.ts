/**
 * Checks the package as npm publishes it: the tarball's contents, publint and Are the Types Wrong on
 * the tarball, and an install of the tarball into a scratch project that loads the SDK with `import`
 * and with `require`. Everything runs offline: rxjs and tslib are packed from this repository's
 * node_modules instead of being downloaded.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

interface PackResult {
  filename: string;
  files: { path: string }[];
}

/** Runs npm without the settings that `npm test` passes down, such as `npm_config_dry_run`. */
async function npm(args: string[], cwd: string): Promise<string> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_config_')),
  );
  const { stdout } = await run('npm', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Packs a folder without lifecycle scripts: `prepack` would rebuild dist/ under the other tests. */
async function pack(folder: string, destination: string): Promise<PackResult> {
  const output = await npm(
    ['pack', folder, '--ignore-scripts', '--json', '--pack-destination', destination],
    root,
  );
  const [result] = JSON.parse(output) as PackResult[];
  if (result === undefined) throw new Error(`npm pack ${folder} printed no result: ${output}`);
  return result;
}

async function runNode(file: string, cwd: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [file], { cwd });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * Returns the body of the consumer script, the same for both module systems apart from how they
 * load the modules. The script prints what it found as JSON.
 */
function consumerBody(resolved: string): string {
  return `
const { HeyGenAPI, HeyGenStatusListenerMode, HeyGenError, InvalidArgumentError } = sdk;
let error;
try {
  new HeyGenAPI({ url: 'not a url', mode: HeyGenStatusListenerMode.POLL });
} catch (caught) {
  error = caught;
}
const client = new HeyGenAPI({ url: 'http://127.0.0.1:9', mode: HeyGenStatusListenerMode.POLL });
rxjs.firstValueFrom(client.mode$).then((mode) => {
  client.dispose();
  console.log(JSON.stringify({
    resolved: ${resolved},
    heyGenApi: typeof HeyGenAPI,
    modes: Object.values(HeyGenStatusListenerMode),
    errorName: error && error.name,
    isInvalidArgumentError: error instanceof InvalidArgumentError,
    isHeyGenError: error instanceof HeyGenError,
    isError: error instanceof Error,
    mode,
  }));
});
`;
}

const ESM_CONSUMER = `import * as sdk from 'heygen-status';
import * as rxjs from 'rxjs';
${consumerBody("import.meta.resolve('heygen-status')")}`;

const CJS_CONSUMER = `const sdk = require('heygen-status');
const rxjs = require('rxjs');
${consumerBody("require.resolve('heygen-status')")}`;

describe('published package', () => {
  let workDir: string;
  let tarball: string;
  let packed: PackResult;
  let app: string;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(tmpdir(), 'heygen-status-pack-'));
    packed = await pack(root, workDir);
    tarball = path.join(workDir, packed.filename);

    const rxjs = await pack(path.join(root, 'node_modules/rxjs'), workDir);
    const tslib = await pack(path.join(root, 'node_modules/tslib'), workDir);

    app = path.join(workDir, 'app');
    await mkdir(app);
    await writeFile(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'scratch-app', private: true }),
    );
    await npm(
      [
        'install',
        '--offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        tarball,
        path.join(workDir, rxjs.filename),
        path.join(workDir, tslib.filename),
      ],
      app,
    );
    await writeFile(path.join(app, 'consumer.mjs'), ESM_CONSUMER);
    await writeFile(path.join(app, 'consumer.cjs'), CJS_CONSUMER);
  }, 120_000);

  afterAll(async () => {
    if (workDir !== undefined) await rm(workDir, { recursive: true, force: true });
  });

  test('tarball contains only published files', () => {
    const files = packed.files.map((file) => file.path).sort();
    const expected = [
      'LICENSE',
      'dist/index.cjs',
      'dist/index.d.cts',
      'dist/index.d.mts',
      'dist/index.mjs',
      'package.json',
    ];
    // npm always adds README.md when it exists.
    if (existsSync(path.join(root, 'README.md'))) expected.push('README.md');

    expect(files).toEqual(expected.sort());
  });

  test('publint finds no problem', async () => {
    const publint = path.join(root, 'node_modules/publint/src/cli.js');
    const { stdout } = await run(process.execPath, [publint, 'run', tarball, '--strict'], {
      cwd: workDir,
    });

    expect(stdout).toContain('All good!');
  }, 60_000);

  test('attw finds no type problem', async () => {
    const attw = path.join(root, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    // attw exits with 1 when it finds a problem; execFile then rejects with its report.
    const { stdout } = await run(
      process.execPath,
      [attw, tarball, '--format', 'json', '--profile', 'strict'],
      { cwd: workDir, maxBuffer: 64 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout) as { analysis: { problems: unknown[] } };

    expect(report.analysis.problems).toEqual([]);
  }, 60_000);

  test.each([
    ['import', 'consumer.mjs', 'dist/index.mjs'],
    ['require', 'consumer.cjs', 'dist/index.cjs'],
  ])('%s loads the SDK', async (_system, script, entry) => {
    const result = await runNode(script, app);

    expect(String(result.resolved)).toMatch(new RegExp(`node_modules/heygen-status/${entry}$`));
    expect(result.heyGenApi).toBe('function');
    expect(result.modes).toEqual(['AUTO', 'SSE', 'POLL']);
    expect(result.errorName).toBe('InvalidArgumentError');
    expect(result.isInvalidArgumentError).toBe(true);
    expect(result.isHeyGenError).toBe(true);
    expect(result.isError).toBe(true);
    expect(result.mode).toBe('POLL');
  });
});
