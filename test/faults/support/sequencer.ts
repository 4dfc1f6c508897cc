import { basename } from 'node:path';
import type { TestSequencer, TestSpecification } from 'vitest/node';

/**
 * Minutes each file takes at full size on two cores (from the suite's own runs), longest first:
 * the suite runs several files side by side, and started first the long waits (a store paused for
 * 10 minutes, a broker down for 5) overlap everything else instead of ending the run alone.
 */
export const EXPECTED_MINUTES: Record<string, number> = {
  'store-pause-qdrant.fault.ts': 11.5,
  'store-pause-lancedb.fault.ts': 11.5,
  'broker-down.fault.ts': 9,
  'worker-kills.fault.ts': 7,
  'throttled.fault.ts': 6,
  'worker-churn.fault.ts': 8,
  'redis-flush.fault.ts': 4,
  'broker-kills.fault.ts': 3,
  'network-cut.fault.ts': 3,
  'slow-handler.fault.ts': 3,
  'poison.fault.ts': 3,
  'shops.fault.ts': 1.5,
  'resync.fault.ts': 1,
  'schema.fault.ts': 1,
  'webhook.fault.ts': 0.5,
  'compaction.fault.ts': 0.5,
  'shrink.fault.ts': 0.3,
};

/** A file not in the table is assumed long: better started early than left to end the run. */
const UNKNOWN_MINUTES = 10;

export default class LongestFirst implements TestSequencer {
  shard(files: TestSpecification[]): TestSpecification[] {
    return files;
  }

  sort(files: TestSpecification[]): TestSpecification[] {
    const minutes = (file: TestSpecification) => EXPECTED_MINUTES[basename(file.moduleId)] ?? UNKNOWN_MINUTES;
    return [...files].sort((a, b) => minutes(b) - minutes(a) || a.moduleId.localeCompare(b.moduleId));
  }
}
