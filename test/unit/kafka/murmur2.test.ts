import { createRequire } from 'node:module';
import fc from 'fast-check';
import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { keyHash, keyPartition, murmur2 } from '../../../src/kafka/murmur2.js';

/** kafkajs' own murmur2 (64-bit emulated arithmetic), the one its DefaultPartitioner uses. */
const kafkajsMurmur2 = createRequire(import.meta.url)('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer | string) => number;

/** The partition kafkajs' default (Java-compatible) partitioner picks for `key` among `count` partitions. */
function kafkajsPartition(key: string, count: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

const COUNTS = [1, 2, 3, 6, 7, 12, 32, 100, 997];

/** Keys of every length modulo 4, with one-, two-, three- and four-byte UTF-8 characters. */
const keys = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', 'a', 'ab', 'abc', 'abcd', 'acme/product/123/1', 'shop/product/Ünïcödé/0', 'tenant/product/日本語の商品/2', 'x/🚀🚀/3', 'é'),
);

describe('murmur2', () => {
  it('gives the numbers of the Java client for known keys', () => {
    // Values of org.apache.kafka.common.utils.Utils.murmur2 (its test suite and kafkajs' fixtures).
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from([0x61, 0x62, 0x63]))).toBe(479470107);
  });

  it('equals kafkajs\' murmur2 on any key, non-ASCII included', () => {
    fc.assert(
      fc.property(keys, (key) => {
        const bytes = Buffer.from(key, 'utf8');
        expect(murmur2(bytes)).toBe(kafkajsMurmur2(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it('puts every key on the partition kafkajs\' DefaultPartitioner puts it on', () => {
    fc.assert(
      fc.property(keys, fc.constantFrom(...COUNTS), (key, count) => {
        expect(keyPartition(key, count)).toBe(kafkajsPartition(key, count));
        expect(keyHash(Buffer.from(key, 'utf8')) % count).toBe(kafkajsPartition(key, count));
      }),
      { numRuns: 5000 },
    );
  });

  it('is positive after the mask, also where the raw hash is negative', () => {
    const negative = ['21', 'foobar'].map((k) => Buffer.from(k));
    for (const key of negative) {
      expect(murmur2(key)).toBeLessThan(0);
      expect(keyHash(key)).toBe(murmur2(key) & 0x7fffffff);
      expect(keyHash(key)).toBeGreaterThanOrEqual(0);
    }
  });
});
