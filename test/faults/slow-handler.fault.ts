import { describe, it } from 'vitest';
import { slowHandler } from './scenarios/stalls.js';

/** FAULTS_SCALE below 1: fewer events and a 10 s session, for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');

describe('a handler slower than the session timeout', () => {
  it('one embedding taking 3× the session timeout: at most one rebalance, that record processed at most twice', async ({ task }) => {
    await slowHandler('6. handler 3× the session timeout', { sessionTimeoutMs: SCALE < 1 ? 10_000 : 30_000, events: Math.max(300, Math.round(5_000 * SCALE)), keys: 100 }, (row) => (task.meta.fault = row));
  });
});
