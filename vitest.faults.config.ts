import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the whole fault-injection suite (test/faults/*.fault.ts) at full size on
 * the real local stack, one file at a time, with a summary table at the end. A quick subset of
 * the same scenarios runs in `npm test` (test/integration/faults.test.ts).
 */
export default defineConfig({
  test: {
    name: 'faults',
    include: ['test/faults/**/*.fault.ts'],
    environment: 'node',
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 20 * 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    reporters: ['default', './test/faults/summary-reporter.ts'],
  },
});
