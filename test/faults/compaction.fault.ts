import { describe, it } from 'vitest';
import { lateOlderSaves } from './scenarios/compaction.js';

describe('late older saves and deletes, before and after compaction', () => {
  it('a deleted entity never comes back; the newest version survives compaction and a replay', async ({ task }) => {
    await lateOlderSaves('10. delete, then a late older save; compaction; replay', (row) => (task.meta.fault = row));
  });
});
