import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTITY_TYPES } from '../../src/core/entities.js';
import { formatKey, parseKey, type EntityKey } from '../../src/core/keys.js';

const tenantArb = fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,62}$/);
// Ids mixing the characters that matter: separators, '#', '%', spaces and non-ASCII text.
const idArb = fc
  .array(fc.oneof(fc.constantFrom('/', '#', ' ', '%', '?', '&', '+', 'ü', 'ß', '東', '🚀', 'é'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 })), {
    minLength: 1,
    maxLength: 12,
  })
  .map((parts) => parts.join('').normalize('NFC'))
  .filter((id) => id.length > 0);
const keyArb: fc.Arbitrary<EntityKey> = fc.record({
  tenant: tenantArb,
  entityType: fc.constantFrom(...ENTITY_TYPES),
  entityId: idArb,
  storeId: fc.nat({ max: 2 ** 31 - 1 }),
});

describe('record keys', () => {
  it('parse back to the key they were formatted from, for any NFC tenant and id', () => {
    fc.assert(fc.property(keyArb, (key) => {
          expect(parseKey(formatKey(key))).toEqual(key);
        }), { numRuns: 500 });
  });

  it('always have exactly four parts', () => {
    fc.assert(fc.property(keyArb, (key) => {
          expect(formatKey(key).split('/')).toHaveLength(4);
        }), { numRuns: 200 });
  });

  it('encode an id with slash, hash, space and umlaut', () => {
    const key = { tenant: 'shop-1', entityType: 'product' as const, entityId: 'A/B #ü', storeId: 3 };
    expect(formatKey(key)).toBe('shop-1/product/A%2FB%20%23%C3%BC/3');
    expect(parseKey('shop-1/product/A%2FB%20%23%C3%BC/3')).toEqual(key);
  });

  it('normalise the id to NFC, so both spellings of é make one key', () => {
    const composed = formatKey({ tenant: 't', entityType: 'cms_page', entityId: 'caf\u00e9', storeId: 0 });
    const decomposed = formatKey({ tenant: 't', entityType: 'cms_page', entityId: 'cafe\u0301', storeId: 0 });
    expect(decomposed).toBe(composed);
  });

  it.each([
    ['a bad tenant', 'Shop/product/1/0'],
    ['an unknown entity type', 't/customer/1/0'],
    ['an empty id', 't/product//0'],
    ['a negative store', 't/product/1/-1'],
    ['a leading zero store', 't/product/1/01'],
    ['too few parts', 't/product/1'],
    ['bad percent-encoding', 't/product/%E0%A4%A/0'],
  ])('are refused when they carry %s', (_label, key) => {
    expect(() => parseKey(key)).toThrow(/invalid (key|tenant)/);
  });
});
