import { describe, it } from 'vitest';
import { lateOlderSaves } from '../../faults/scenarios/compaction.js';

/**
 * Compaction keeps the last record of a key, not the one with the highest version (docs/design.md
 * §2 "Monotonic from the first hop on"): the map stage drops a late older save and republishes the
 * newest applied record, so what compaction keeps is the newest version and a replay into an empty
 * store rebuilds it. The scenario (test/faults/scenarios/compaction.ts) is also scenario 10 of the
 * fault suite.
 */
describe('a replay after the change topics were compacted', () => {
  it('indexes the newest version of a key whose older save came last, and never brings back a deleted one', async ({ task }) => {
    await lateOlderSaves('10. delete, then a late older save; compaction; replay', (row) => (task.meta.fault = row));
  }, 480_000);
});
