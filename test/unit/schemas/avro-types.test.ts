import { describe, expect, it } from 'vitest';
import { avroType, invalidAvroPaths } from '../../../src/schemas/avro-types.js';

describe('avro types', () => {
  it("writes every long of a value with its own bits (the bytes of one are never another's)", () => {
    const type = avroType({
      type: 'record',
      name: 'Longs',
      fields: [
        { name: 'a', type: 'long' },
        { name: 'b', type: 'long' },
        { name: 'list', type: { type: 'array', items: 'long' } },
        { name: 'maybe', type: ['null', 'long'] },
      ],
    });
    const value = { a: -(2n ** 63n), b: 2n ** 63n - 1n, list: [0n, -1n, 1n, 9_007_199_254_740_993n, -123_456_789_012n], maybe: -7n };
    expect(type.fromBuffer(type.toBuffer(value))).toEqual(value);
    const buffer = Buffer.alloc(256);
    const end = type.encode(value, buffer, 3);
    expect(type.fromBuffer(buffer.subarray(3, end))).toEqual(value);
  });

  it('names the fields a value gets wrong, and none of a valid one', () => {
    const type = avroType({ type: 'record', name: 'Pair', fields: [{ name: 'n', type: 'long' }, { name: 's', type: 'string' }] });
    expect(invalidAvroPaths(type, { n: 1n, s: 'x' })).toEqual([]);
    expect(invalidAvroPaths(type, { n: 1, s: 2 })).toEqual(['n', 's']);
  });
});
