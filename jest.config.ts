import type { Config } from 'jest';

const config: Config = {
  // The Node.js environment plus open-handle detection per test file: see test/environment.ts.
  testEnvironment: '<rootDir>/test/environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking runs once in `npm run typecheck`; here ts-jest only transpiles (isolatedModules).
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
  },
  // Builds dist/ when it is missing or older than src/: the browser and package tests use it.
  globalSetup: '<rootDir>/test/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  testTimeout: 20_000,
  // Jest's default on a 2-core machine is one worker, yet the tests mostly wait on sockets and
  // timers: two workers halve the suite's run time there without starving either core.
  maxWorkers: 2,
};

export default config;
