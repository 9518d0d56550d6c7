import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');

/** Files that `npm run build` writes, and that the browser and package tests read. */
const OUTPUTS = [
  'dist/index.mjs',
  'dist/index.cjs',
  'dist/index.min.mjs',
  'dist/index.d.mts',
  'dist/index.d.cts',
];

/** Files whose change makes the build outputs stale. */
const INPUTS = ['src', 'rollup.config.mjs', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

function newestMtimeMs(entry: string): number {
  const stats = statSync(entry);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(entry).reduce(
    (newest, name) => Math.max(newest, newestMtimeMs(path.join(entry, name))),
    stats.mtimeMs,
  );
}

function oldestOutputMtimeMs(): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const output of OUTPUTS) {
    try {
      oldest = Math.min(oldest, statSync(path.join(root, output)).mtimeMs);
    } catch {
      return Number.NEGATIVE_INFINITY;
    }
  }
  return oldest;
}

/**
 * Builds `dist/` with the command of `npm run build` once before any test file, unless every output
 * is newer than every input, so that a fresh clone can run `jest` alone. Running it here, in the parent process, keeps
 * parallel test workers from building into the same folder at once.
 */
export default function globalSetup(): void {
  const newestInput = Math.max(...INPUTS.map((input) => newestMtimeMs(path.join(root, input))));
  if (oldestOutputMtimeMs() > newestInput) return;

  const rollup = path.join(root, 'node_modules/rollup/dist/bin/rollup');
  execFileSync(process.execPath, [rollup, '-c', 'rollup.config.mjs', '--silent'], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
