import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  aspectOverlay,
  decodeHead,
  encodeHead,
  headAfterAspect,
  headAfterDelete,
  headAfterSave,
  isAspectStale,
  isLive,
  isStale,
} from '../../../src/stores/version-guard.js';

const KEY = 'acme/product/p1/1';

describe('the version guard', () => {
  it('applies anything to a document it has never seen', () => {
    expect(isStale(undefined, 0n)).toBe(false);
  });

  it('applies an equal version again and skips an older one', () => {
    const head = headAfterSave(undefined, KEY, 7n);
    expect(isStale(head, 7n)).toBe(false);
    expect(isStale(head, 8n)).toBe(false);
    expect(isStale(head, 6n)).toBe(true);
  });

  it('keeps a delete marker that makes older saves stale', () => {
    const marker = headAfterDelete(headAfterSave(undefined, KEY, 3n), KEY, 5n, 1234);
    expect(marker).toMatchObject({ version: 5n, deleted: true, deleted_at: 1234 });
    expect(isStale(marker, 4n)).toBe(true);
    expect(isLive(marker)).toBe(false);
    expect(headAfterSave(marker, KEY, 6n)).toMatchObject({ deleted: false, deleted_at: null, version: 6n });
  });

  it('ends at the highest version whatever order saves arrive in', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 1n, max: 1n << 62n }), { minLength: 1, maxLength: 30 }), (versions) => {
        let head = undefined as ReturnType<typeof headAfterSave> | undefined;
        for (const version of versions) if (!isStale(head, version)) head = headAfterSave(head, KEY, version);
        expect(head?.version).toBe(versions.reduce((a, b) => (a > b ? a : b)));
      }),
    );
  });

  describe('when aspects arrive', () => {
    it('guards each aspect by its own version only', () => {
      const head = headAfterAspect(headAfterSave(undefined, KEY, 100n), { docKey: KEY, aspect: 'product_price', version: 5n, fields: { price: 1 } });
      expect(isAspectStale(head, 'product_price', 4n)).toBe(true);
      expect(isAspectStale(head, 'product_price', 5n)).toBe(false);
      expect(isAspectStale(head, 'product_stock', 1n)).toBe(false);
    });

    it('overlays only aspects at least as new as the save', () => {
      let head = headAfterAspect(undefined, { docKey: KEY, aspect: 'product_price', version: 10n, fields: { price: 9 } });
      head = headAfterAspect(head, { docKey: KEY, aspect: 'product_stock', version: 3n, fields: { in_stock: true } });
      expect(aspectOverlay(head, 5n)).toEqual({ price: 9 });
      expect(aspectOverlay(head, 3n)).toEqual({ price: 9, in_stock: true });
      expect(aspectOverlay(head, 11n)).toEqual({});
      expect(isLive(head)).toBe(false);
    });
  });

  it('encodes heads with versions above 2^53 without losing precision', () => {
    const version = (1n << 62n) + 3n;
    const head = headAfterAspect(headAfterSave(undefined, KEY, version), { docKey: KEY, aspect: 'product_price', version: version + 1n, fields: { price: 2 } });
    const roundTrip = decodeHead(JSON.parse(JSON.stringify(encodeHead(head))));
    expect(roundTrip).toEqual(head);
  });

  it('refuses an unreadable head', () => {
    expect(() => decodeHead({ doc_key: KEY })).toThrow(/unreadable head/);
  });
});
