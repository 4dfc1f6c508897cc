import { describe, it } from 'vitest';
import { storePause } from './scenarios/stalls.js';

/** FAULTS_SCALE below 1: a shorter pause (at least a minute) and fewer events, for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');
const pauseMs = Math.max(60_000, Math.round(10 * 60_000 * SCALE));
const events = Math.max(300, Math.round(5_000 * SCALE));

// A file per store: the suite runs files side by side, so the two 10-minute pauses overlap.
describe('the store paused', () => {
  it(`LanceDB folder unwritable for ${pauseMs / 60_000} min: nothing dead-lettered, the state equal after`, async ({ task }) => {
    await storePause('7. LanceDB unwritable', { store: 'lancedb', pauseMs, events, keys: 100 }, (row) => (task.meta.fault = row));
  });
});
