import { describe, it } from 'vitest';
import { workerKills } from './scenarios/worker-kill.js';

/** FAULTS_SCALE below 1 runs the scenarios smaller (events and faults), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

// A file of its own, apart from the kills: the suite runs files side by side (vitest.faults.config.ts).
describe('Redis emptied under a running worker', () => {
  it('every Redis key of the pipeline deleted 5× during 20,000 events: nothing lost, nothing stale', async ({ task }) => {
    const kills = scaled(5, 2);
    await workerKills(`14. Redis flushed ${kills}×`, { events: scaled(20_000, 1_000), keys: 200, kills, partitions: 6, fault: 'flush-redis' }, (row) => (task.meta.fault = row));
  });
});

describe('workers added and removed while they work', () => {
  it('a second worker added or one removed 30× during 30,000 events: nothing lost, nothing stale', async ({ task }) => {
    const kills = scaled(30, 4);
    await workerKills(`3. workers added and removed ${kills}×`, { events: scaled(30_000, 1_000), keys: 200, kills, partitions: 6, fault: 'scale' }, (row) => (task.meta.fault = row));
  });
});
