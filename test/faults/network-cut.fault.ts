import { describe, it } from 'vitest';
import { networkCut } from './scenarios/broker.js';

/** FAULTS_SCALE (default 1) shrinks the events and the cut for a quick run, e.g. 0.1; the suite's own figures are at 1. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const events = (n: number) => Math.max(300, Math.round(n * SCALE));
const ms = (n: number, floor: number) => Math.max(floor, Math.round(n * SCALE));

describe('the network to the broker cut', () => {
  it('60 s without a byte between the worker and the broker while events arrive: nothing lost, stale or twice', async ({ task }) => {
    await networkCut('16. network cut 60 s', { events: events(20_000), keys: 200, partitions: 3, cutMs: ms(60_000, 20_000) }, (row) => (task.meta.fault = row));
  });
});
