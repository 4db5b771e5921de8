import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'core/**/*.test.ts', 'plugins/**/*.test.ts', 'examples/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 60_000,
    // Vitest's default in run mode is one worker fewer than the cores: on a 2-core machine the
    // files would run one at a time. The tests are CPU-bound simulations, so use every core.
    maxWorkers: availableParallelism(),
  },
});
