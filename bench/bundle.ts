/**
 * Scenario 5, bundle size: the minified ESM build of the SDK without rxjs, and a small app bundle that
 * uses `HeyGenAPI` with rxjs tree-shaken in.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { rollup } from 'rollup';
import { formatBytes, type ScenarioResult, type Table } from './report';

/** gzip level 9, the level that size budgets and bundle-size services commonly report. */
function gzipSize(code: string | Buffer): number {
  return gzipSync(code, { level: 9 }).length;
}

/** Returns the source of an app that creates a client and a job, then watches the job and waits for it. */
function appEntry(sdkPath: string): string {
  return `import { HeyGenAPI, HeyGenStatusListenerMode } from ${JSON.stringify(sdkPath)};

const heygen = new HeyGenAPI({ url: 'https://api.example.com', mode: HeyGenStatusListenerMode.AUTO, fallback: true });
const jobId = await heygen.createJob();
heygen.jobStatus$(jobId).subscribe((job) => console.log(job.status, job.progress));
console.log(await heygen.waitForJob(jobId, { timeout: 60000 }));
`;
}

export async function measureBundle(root: string): Promise<ScenarioResult> {
  const built = ensureBuild(root);
  const minified = readFileSync(join(root, 'dist', 'index.min.mjs'));
  const app = await bundleApp(join(root, 'dist', 'index.mjs'));

  const table: Table = {
    title: 'Bundle size',
    columns: ['bundle', 'minified', 'min + gzip'],
    rows: [
      [
        'dist/index.min.mjs (rxjs external)',
        formatBytes(minified.length),
        formatBytes(gzipSize(minified)),
      ],
      [
        'app using HeyGenAPI, rxjs tree-shaken in',
        formatBytes(Buffer.byteLength(app)),
        formatBytes(gzipSize(app)),
      ],
    ],
    notes: built
      ? ['dist/ was missing or older than src/, so the bench ran npm run build first.']
      : [],
  };

  return {
    title: '5. Bundle',
    method: [
      'gzip level 9 of `dist/index.min.mjs`, the minified ESM build of `npm run build`, which keeps rxjs external.',
      'The app bundle is a 5-line entry (create a client in AUTO mode with fallback, create a job, subscribe to it, wait for it) bundled by rollup with @rollup/plugin-node-resolve (rxjs resolved to its ES2015 build) and minified by @rollup/plugin-terser with default options.',
    ],
    tables: [table],
    goals: [],
  };
}

/** Runs `npm run build` when the build is missing or older than a file in `src/`, and returns whether it ran. */
function ensureBuild(root: string): boolean {
  const output = join(root, 'dist', 'index.min.mjs');
  if (existsSync(output) && statSync(output).mtimeMs >= newestMtime(join(root, 'src')))
    return false;
  const result = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    throw new Error(
      `npm run build failed with exit code ${result.status}: fix the build, then rerun the bench`,
    );
  }
  return true;
}

function newestMtime(directory: string): number {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true, recursive: true })) {
    if (entry.isFile())
      newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

async function bundleApp(sdkPath: string): Promise<string> {
  const directory = mkdtempSync(join(tmpdir(), 'heygen-bench-bundle-'));
  try {
    const entry = join(directory, 'app.mjs');
    writeFileSync(entry, appEntry(sdkPath));
    const bundle = await rollup({
      input: entry,
      plugins: [nodeResolve({ exportConditions: ['es2015'] })],
      onwarn: (warning) => {
        throw new Error(`rollup warned while bundling the app: ${warning.message}`);
      },
    });
    try {
      const { output } = await bundle.generate({ format: 'es', plugins: [terser()] });
      const [chunk] = output;
      if (chunk.imports.length > 0) {
        throw new Error(
          `The app bundle still imports ${chunk.imports.join(', ')}: every module must be bundled`,
        );
      }
      return chunk.code;
    } finally {
      await bundle.close();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
