import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

// rxjs is a peer dependency: the application's copy is used, never a bundled one.
const external = (id) => id === 'rxjs' || id.startsWith('rxjs/');

/**
 * Options of the minified copy, which exists only for the size budget and is not published.
 * They stay close to what an application's bundler does with `dist/index.mjs` (ES module scope, modern
 * syntax, no comments), so the budget measures what users download. Property mangling is left out
 * because application bundlers do not do it by default. `scripts/bundle-size.mts` reuses these options.
 */
export const terserOptions = {
  module: true,
  ecma: 2020,
  compress: { passes: 2 },
  format: { comments: false },
};

export default [
  {
    input: 'src/index.ts',
    external,
    plugins: [
      typescript({
        tsconfig: './tsconfig.build.json',
        declaration: false,
        declarationDir: undefined,
        outDir: 'dist',
      }),
    ],
    output: [
      // The maps are written for local debugging but not published (see `files` in package.json):
      // the unminified output already reads like the source. 'hidden' leaves out the
      // sourceMappingURL comment, so that bundlers do not warn about a map missing from the package.
      { file: 'dist/index.mjs', format: 'es', sourcemap: 'hidden' },
      { file: 'dist/index.cjs', format: 'cjs', sourcemap: 'hidden', exports: 'named' },
      // Minified copy, measured by the size budget; applications minify with their own bundler.
      { file: 'dist/index.min.mjs', format: 'es', plugins: [terser(terserOptions)] },
    ],
  },
  {
    // One declaration bundle per module system, so each resolves its types with the right format.
    input: 'src/index.ts',
    external,
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
    output: [
      { file: 'dist/index.d.mts', format: 'es' },
      { file: 'dist/index.d.cts', format: 'es' },
    ],
  },
];
