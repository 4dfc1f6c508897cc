import { describe, expect, it } from 'vitest';
import { stableStringify } from '../../../src/consumers/map/stable-json.js';

describe('stableStringify', () => {
  it('gives the same text whatever the key order, at every depth', () => {
    const a = { sku: 'TR-200', attributes: { color: 'Slate', size: '42' }, price: 129.95 };
    const b = { price: 129.95, attributes: { size: '42', color: 'Slate' }, sku: 'TR-200' };
    expect(stableStringify(a)).toBe(stableStringify(b));
    expect(stableStringify(a)).toBe('{"attributes":{"color":"Slate","size":"42"},"price":129.95,"sku":"TR-200"}');
  });

  it('keeps array order, keeps nulls and leaves out undefined fields', () => {
    expect(stableStringify({ b: [3, 1, 2], a: null, c: undefined })).toBe('{"a":null,"b":[3,1,2]}');
  });

  it('writes a bigint as its decimal string', () => {
    expect(stableStringify({ v: 17000000000000000001n })).toBe('{"v":"17000000000000000001"}');
  });
});
