import { describe, it } from 'vitest';
import { brokerDown } from './scenarios/broker.js';

/** FAULTS_SCALE (default 1) shrinks the events and the downtime for a quick run, e.g. 0.1; the suite's own figures are at 1. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const events = (n: number) => Math.max(300, Math.round(n * SCALE));
const ms = (n: number, floor: number) => Math.max(floor, Math.round(n * SCALE));

describe('the broker away for 5 minutes', () => {
  it('the worker waits (not ready, alive, healthy), then drains the lag within 5 minutes of the return: nothing lost, stale or twice', async ({ task }) => {
    await brokerDown('5. broker down 5 min', { events: events(20_000), keys: 200, partitions: 3, downMs: ms(5 * 60_000, 60_000) }, (row) => (task.meta.fault = row));
  });
});
