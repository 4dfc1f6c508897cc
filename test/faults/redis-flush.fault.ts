import { describe, it } from 'vitest';
import { inLane, LANE_RANK } from './support/cpu-lane.js';
import { redisFlushDuringRetries } from './scenarios/redis-flush.js';

/** FAULTS_SCALE below 1 runs the scenario smaller (events and flushes), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

describe('Redis emptied under a running worker', () => {
  inLane(LANE_RANK['redis-flush.fault.ts']!, 1);

  it('every Redis key of the pipeline deleted again and again while store writes wait in retry topics, 20,000 events: no retry lost, nothing stale, nothing dead-lettered', async ({ task }) => {
    await redisFlushDuringRetries(
      '14. Redis flushed during retries',
      { events: scaled(20_000, 1_000), keys: 200, partitions: 6, minFlushes: scaled(5, 2), failPerThousand: 10 },
      (row) => (task.meta.fault = row),
    );
  });
});
