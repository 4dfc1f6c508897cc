import { describe, it } from 'vitest';
import { workerKills } from './scenarios/worker-kill.js';

/** FAULTS_SCALE below 1 runs the scenario smaller (events and flushes), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

describe('Redis emptied under a running worker', () => {
  it('every Redis key of the pipeline deleted 5× during 20,000 events: nothing lost, nothing stale', async ({ task }) => {
    const kills = scaled(5, 2);
    await workerKills(`14. Redis flushed ${kills}×`, { events: scaled(20_000, 1_000), keys: 200, kills, partitions: 6, fault: 'flush-redis' }, (row) => (task.meta.fault = row));
  });
});
