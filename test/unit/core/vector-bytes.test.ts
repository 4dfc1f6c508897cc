import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesToVector, vectorToBytes } from '../../../src/core/vector-bytes.js';

describe('vector bytes', () => {
  it('are float32 little-endian', () => {
    expect([...vectorToBytes(Float32Array.of(1, -2))]).toEqual([0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
  });

  it('round-trip every float32 vector exactly', () => {
    fc.assert(
      fc.property(fc.float32Array({ noDefaultInfinity: true }), (vector) => {
        expect(Array.from(bytesToVector(vectorToBytes(vector)))).toEqual(Array.from(vector));
      }),
    );
  });

  it('read a slice of a larger buffer at any offset', () => {
    const big = Buffer.concat([Buffer.from([9]), vectorToBytes(Float32Array.of(0.5, 3))]);
    expect(Array.from(bytesToVector(big.subarray(1)))).toEqual([0.5, 3]);
  });

  it('refuse a length that is not a multiple of 4', () => {
    expect(() => bytesToVector(Buffer.alloc(6))).toThrow(RangeError);
  });
});
