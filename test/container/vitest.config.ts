import { defineConfig } from 'vitest/config';

// The container tests share one network namespace (the pod's): one file, one at a time.
export default defineConfig({
  test: {
    include: ['test/container/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: process.env.SCION_E2E_REPORT ? ['default', ['json', { outputFile: process.env.SCION_E2E_REPORT }]] : ['default'],
  },
});
