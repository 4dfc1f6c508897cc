import { describe, it } from 'vitest';
import { resyncUnderLiveTraffic } from './scenarios/resync-live.js';

/** FAULTS_SCALE below 1 runs it with fewer events and keys, for a quick check. */
const SCALE = Number(process.env.FAULTS_SCALE ?? '1');

describe('a full resync under live traffic', () => {
  it('from offset 0 after forced compaction, while live changes arrive: index and shops as expected, no shop call for an unchanged entity', async ({ task }) => {
    await resyncUnderLiveTraffic(
      '12. resync from 0 after compaction, live traffic',
      { events: Math.round(4_000 * SCALE), keys: Math.max(30, Math.round(400 * SCALE)), changedKeys: Math.max(5, Math.round(40 * SCALE)) },
      (row) => (task.meta.fault = row),
    );
  });
});
