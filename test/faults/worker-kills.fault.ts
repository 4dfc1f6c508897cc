import { describe, it } from 'vitest';
import { inLane, LANE_RANK } from './support/cpu-lane.js';
import { workerKills } from './scenarios/worker-kill.js';

/** FAULTS_SCALE below 1 runs the scenarios smaller (events and stops), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

describe('workers stopped while they work', () => {
  inLane(LANE_RANK['worker-kills.fault.ts']!, 1);

  it('SIGKILL 20× during 50,000 events on 200 keys: nothing lost, nothing stale', async ({ task }) => {
    const kills = scaled(20, 2);
    await workerKills(`1. SIGKILL ${kills}×`, { events: scaled(50_000, 1_000), keys: 200, kills, partitions: 6, fault: 'SIGKILL' }, (row) => (task.meta.fault = row));
  });

  it('SIGTERM 20×: nothing lost, nothing stale, nothing redelivered, every stop within the session timeout', async ({ task }) => {
    const kills = scaled(20, 2);
    await workerKills(`2. SIGTERM ${kills}×`, { events: scaled(20_000, 1_000), keys: 200, kills, partitions: 6, fault: 'SIGTERM' }, (row) => (task.meta.fault = row));
  });
});
