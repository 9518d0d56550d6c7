import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const minifiedBundle = path.join(root, 'dist/index.min.mjs');

/**
 * Budget of the minified ES module bundle, rxjs excluded, after gzip at level 9: 8.5 KiB.
 *
 * NOTE: the target is 4 KiB, which this SDK misses by about half: it measured 8,460 bytes when this
 * budget was set. Even with every string literal removed it would be above 6 KiB, so reaching 4 KiB
 * means dropping features (option validation, reconnection and stall handling, typed errors) rather
 * than trimming. Until that choice is made, this budget stops the bundle from growing unnoticed.
 * `npm run size` lists the share of each source module.
 */
const GZIP_BUDGET_BYTES = 8.5 * 1024;

/**
 * Prints `[exportName, error.name]` for every error class that the minified bundle exports. Every
 * constructor of the SDK accepts three strings without throwing.
 */
const PRINT_ERROR_NAMES = `
const sdk = await import(${JSON.stringify(pathToFileURL(minifiedBundle).href)});
const names = Object.entries(sdk)
  .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
  .map(([exportName, ErrorClass]) => [exportName, new ErrorClass('a', 'b', 'c').name]);
console.log(JSON.stringify(names));
`;

describe('minified bundle', () => {
  test('stays within the gzip budget', () => {
    const gzipped = gzipSync(readFileSync(minifiedBundle), { level: 9 }).length;

    expect(gzipped).toBeLessThanOrEqual(GZIP_BUDGET_BYTES);
  });

  test('keeps the name of every error class', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--input-type=module', '--eval', PRINT_ERROR_NAMES],
      { cwd: root },
    );
    const names = JSON.parse(stdout) as [string, string][];

    expect(names.length).toBeGreaterThanOrEqual(13);
    for (const [exportName, errorName] of names) {
      expect({ exportName, errorName }).toEqual({ exportName, errorName: exportName });
    }
  });
});
