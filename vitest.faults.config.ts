import { defineConfig } from 'vitest/config';
import LongestFirst from './test/faults/support/sequencer.js';

/**
 * `npm run test:faults`: the whole fault-injection suite (test/faults/*.fault.ts) at full size on
 * the real local stack, with a summary table at the end. Files run eight at a time, the longest
 * first (test/faults/support/sequencer.ts): several scenarios mostly wait (a store paused for 10
 * minutes, a broker of their own down for 5, a network cut), each works in topics, groups, Redis
 * keys and stores of its own, and one at a time the suite would take over an hour. The scenarios
 * that keep both cores busy run one at a time, in a lane (test/faults/support/cpu-lane.ts), so
 * that the machine, not the pipeline, never fails a check of a rate or a deadline; the five files
 * of the lane, mostly waiting their turn, leave three places to the others (with five, the
 * machine ran at a load of 65 and failed checks of rates and deadlines again).
 * `FAULTS_SCALE=0.1` runs every scenario smaller. A quick subset of the same scenarios runs in
 * `npm test` (test/integration/faults.test.ts).
 */
export default defineConfig({
  test: {
    name: 'faults',
    include: ['test/faults/**/*.fault.ts'],
    environment: 'node',
    globalSetup: ['test/faults/support/global-setup.ts'],
    testTimeout: 20 * 60_000,
    hookTimeout: 180_000,
    fileParallelism: true,
    maxWorkers: 8,
    // Every ragsync process a scenario starts (workers, `webhook serve`) runs from the build the
    // setup made of the sources under test, as the image runs it: from the sources, each start
    // would compile them again, and the scenarios that restart a worker 20 or 30 times spent
    // most of their CPU on that.
    env: { RAGSYNC_USE_DIST: '1' },
    sequence: { sequencer: LongestFirst },
    reporters: ['default', './test/faults/summary-reporter.ts'],
  },
});
