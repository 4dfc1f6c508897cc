import { describe, it } from 'vitest';
import { inLane, LANE_RANK } from './support/cpu-lane.js';
import { throttledEmbedding } from './scenarios/throttled.js';

/** FAULTS_SCALE below 1 publishes for a shorter time (the rates stay), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');

describe('embedding slower than the input', () => {
  inLane(LANE_RANK['throttled.fault.ts']!, 1);

  it('5,000 events/s in, embedding throttled to 500 texts/s: RSS under 512 MB, per-key order kept, the lag drains', async ({ task }) => {
    await throttledEmbedding(
      '15. 5,000 events/s, embedding at 500/s',
      { events: Math.round(100_000 * SCALE), keys: Math.max(200, Math.round(2_000 * SCALE)), eventsPerSecond: 5_000, textsPerSecond: 500, rssLimitMb: 512 },
      (row) => (task.meta.fault = row),
    );
  });
});
