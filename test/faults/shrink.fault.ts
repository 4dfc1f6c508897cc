import { describe, it } from 'vitest';
import { shrinkingDocument } from './scenarios/shrink.js';

describe('a document that shrinks', () => {
  it('from 40 chunks to 12, the new version sent 10×: exactly 12 points', async ({ task }) => {
    await shrinkingDocument('11. shrink 40 → 12, resent 10×', 10, (row) => (task.meta.fault = row));
  });
});
