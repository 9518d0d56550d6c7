import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

// rxjs is a peer dependency: the application's copy is used, never a bundled one.
const external = (id) => id === 'rxjs' || id.startsWith('rxjs/');

export default [
  {
    input: 'src/index.ts',
    external,
    plugins: [typescript({ tsconfig: './tsconfig.build.json', declaration: false, declarationDir: undefined, outDir: 'dist' })],
    output: [
      { file: 'dist/index.mjs', format: 'es', sourcemap: true },
      { file: 'dist/index.cjs', format: 'cjs', sourcemap: true, exports: 'named' },
      // Minified copy, measured by the size budget; applications minify with their own bundler.
      { file: 'dist/index.min.mjs', format: 'es', plugins: [terser()] },
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
