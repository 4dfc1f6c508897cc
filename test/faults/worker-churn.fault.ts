import { describe, it } from 'vitest';
import { inLane, LANE_RANK } from './support/cpu-lane.js';
import { workerKills } from './scenarios/worker-kill.js';

/** FAULTS_SCALE below 1 runs the scenario smaller (events and changes), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

describe('workers added and removed while they work', () => {
  inLane(LANE_RANK['worker-churn.fault.ts']!, 1);

  it('a second worker added or one removed 30× during 30,000 events: nothing lost, nothing stale', async ({ task }) => {
    const kills = scaled(30, 4);
    await workerKills(`3. workers added and removed ${kills}×`, { events: scaled(30_000, 1_000), keys: 200, kills, partitions: 6, fault: 'scale' }, (row) => (task.meta.fault = row));
  });
});
