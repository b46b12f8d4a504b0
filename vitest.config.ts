import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Container tests run through scripts/e2e.mjs, inside a pod's network namespace.
    exclude: ['test/container/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Process tests spawn hundreds of processes; two files at a time suit a 2-core machine.
    maxWorkers: 2,
    // CI asks for a JSON report too, to count what ran.
    reporters: process.env.SCION_TEST_REPORT ? ['default', ['json', { outputFile: process.env.SCION_TEST_REPORT }]] : ['default'],
  },
});
