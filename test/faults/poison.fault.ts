import { describe, it } from 'vitest';
import { inLane, LANE_RANK } from './support/cpu-lane.js';
import { poisonInput } from './scenarios/poison.js';

/** FAULTS_SCALE below 1 runs the scenario smaller (good and bad records alike), for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const scaled = (n: number, min: number) => Math.max(min, Math.round(n * SCALE));

describe('poison among good records', () => {
  inLane(LANE_RANK['poison.fault.ts']!, 1);

  it('1 % bad bytes, 0.5 % cut Avro and oversized documents in 20,000 events: each dead-lettered once, at its first attempt, without the retry tiers; the rest applied', async ({ task }) => {
    await poisonInput('9. poison input', { events: scaled(20_000, 1_000), badBytes: scaled(200, 10), schemaInvalid: scaled(100, 5), oversized: scaled(5, 2) }, (row) => (task.meta.fault = row));
  });
});
