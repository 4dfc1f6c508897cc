import { describe, it } from 'vitest';
import { incompatibleSchema } from './scenarios/schema.js';

/** FAULTS_SCALE below 1: fewer events, for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');

describe('an incompatible schema', () => {
  it('refused at the producer with what is wrong named, nothing half-written; the worker goes on and applies later records', async ({ task }) => {
    await incompatibleSchema('13. incompatible schema', { events: Math.max(300, Math.round(5_000 * SCALE)), keys: 100 }, (row) => (task.meta.fault = row));
  });
});
