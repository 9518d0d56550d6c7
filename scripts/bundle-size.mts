/**
 * Prints the size of the minified SDK bundle and the share of each source module in it.
 *
 * `npm run size` builds `dist/` and then runs this script. rxjs is external and never counted.
 *
 * The whole-bundle numbers come from `dist/index.min.mjs`. The per-module numbers come from a second
 * build with one output file per module, each minified with the same terser options and gzipped
 * alone. Modules gzipped alone cannot share a compression dictionary, so their gzip sizes add up to
 * more than the gzip size of the whole bundle: read them as relative costs, not as exact shares.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { rollup, type RollupOptions } from 'rollup';
import { minify, type MinifyOptions } from 'terser';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Returns the size in bytes after gzip at level 9, as the size budget test measures. */
function gzipSize(code: string | Buffer): number {
  return gzipSync(code, { level: 9 }).length;
}

interface ModuleSize {
  module: string;
  /** Bytes of the module in the unminified bundle, after tree shaking. */
  rendered: number;
  minified: number;
  gzipped: number;
}

interface BuildConfig {
  /** The library build of rollup.config.mjs, whose input, externals and plugins this script reuses. */
  default: [RollupOptions, ...RollupOptions[]];
  terserOptions: MinifyOptions;
}

/** Loads the build configuration, so that the modules are compiled and minified as the bundle is. */
async function loadBuildConfig(): Promise<BuildConfig> {
  const configUrl = pathToFileURL(path.join(root, 'rollup.config.mjs')).href;
  return (await import(configUrl)) as BuildConfig;
}

async function measureModules(): Promise<ModuleSize[]> {
  const config = await loadBuildConfig();
  const [library] = config.default;
  const bundle = await rollup({
    input: library.input,
    external: library.external,
    plugins: library.plugins,
  });
  const { output } = await bundle.generate({ format: 'es', preserveModules: true });
  await bundle.close();

  const sizes: ModuleSize[] = [];
  for (const chunk of output) {
    if (chunk.type !== 'chunk' || chunk.facadeModuleId === null) continue;
    const minified = await minify(chunk.code, config.terserOptions);
    const code = minified.code ?? '';
    sizes.push({
      module: path.relative(root, chunk.facadeModuleId),
      rendered: Buffer.byteLength(chunk.code),
      minified: Buffer.byteLength(code),
      gzipped: gzipSize(code),
    });
  }
  return sizes.sort((a, b) => b.gzipped - a.gzipped);
}

function formatRow(cells: (string | number)[]): string {
  const [name, ...numbers] = cells;
  return `${String(name).padEnd(40)}${numbers.map((cell) => String(cell).padStart(10)).join('')}`;
}

async function main(): Promise<void> {
  // rollup.config.mjs names its files relative to the repository root.
  process.chdir(root);
  const raw = readFileSync(path.join(root, 'dist/index.mjs'));
  const minified = readFileSync(path.join(root, 'dist/index.min.mjs'));
  console.log('Whole bundle (rxjs excluded), in bytes:');
  console.log(formatRow(['file', 'raw', 'gzip']));
  console.log(formatRow(['dist/index.mjs', raw.length, gzipSize(raw)]));
  console.log(formatRow(['dist/index.min.mjs', minified.length, gzipSize(minified)]));
  console.log('');

  const modules = await measureModules();
  const total = modules.reduce((sum, entry) => sum + entry.gzipped, 0);
  console.log('Per source module, each minified and gzipped alone, in bytes:');
  console.log(formatRow(['module', 'rendered', 'min', 'gzip', 'gzip %']));
  for (const entry of modules) {
    const share = ((100 * entry.gzipped) / total).toFixed(1);
    console.log(
      formatRow([entry.module, entry.rendered, entry.minified, entry.gzipped, `${share}%`]),
    );
  }
  console.log(formatRow(['sum of modules', '', '', total, '']));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
