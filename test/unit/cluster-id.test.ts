import { describe, expect, it } from 'vitest';
import { newClusterId } from '../../src/stack/services.js';

describe('the local KRaft cluster id', () => {
  it('is 16 bytes in base64url and never starts with "-" (the storage tool would read it as an option)', () => {
    // One random id in 64 starts with "-": 3,000 ids find one with near certainty if it is possible.
    const ids = Array.from({ length: 3000 }, () => newClusterId());
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });
});
