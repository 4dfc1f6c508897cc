import { describe, expect, it } from 'vitest';
import {
  checkOffsetCommits,
  decodeOffsetCommitKey,
  decodeOffsetCommitValue,
  decodeOffsetsRecord,
  javaStringHash,
  offsetsPartitionFor,
  type OffsetCommit,
} from '../../faults/support/offset-commits.js';

// Records of __consumer_offsets built byte by byte, as the group coordinator writes them.
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(n);
  return b;
};
const str = (s: string) => Buffer.concat([int16(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]);
const key = (version: number, group: string, topic: string, partition: number) => Buffer.concat([int16(version), str(group), str(topic), int32(partition)]);

describe('decoding the records of __consumer_offsets', () => {
  it('reads group, topic and partition from an offset commit key of version 0 or 1', () => {
    expect(decodeOffsetCommitKey(key(1, 'pipe.map', 'pipe.changes.product', 5))).toEqual({ group: 'pipe.map', topic: 'pipe.changes.product', partition: 5 });
    expect(decodeOffsetCommitKey(key(0, 'g', 'tópic', 0))).toEqual({ group: 'g', topic: 'tópic', partition: 0 });
  });

  it('skips group metadata (key version 2) and the records of newer group types', () => {
    expect(decodeOffsetCommitKey(Buffer.concat([int16(2), str('pipe.map')]))).toBeUndefined();
    expect(decodeOffsetCommitKey(Buffer.concat([int16(3), str('pipe.map')]))).toBeUndefined();
  });

  it('reads a version 3 value: offset, leader epoch, metadata, commit timestamp', () => {
    const value = Buffer.concat([int16(3), int64(1234n), int32(7), str('meta'), int64(1_700_000_000_000n)]);
    expect(decodeOffsetCommitValue(value)).toEqual({ offset: 1234n, leaderEpoch: 7, metadata: 'meta', commitTimestamp: 1_700_000_000_000 });
  });

  it('reads a version 1 value with its expire timestamp, and version 0 and 2 without leader epoch', () => {
    expect(decodeOffsetCommitValue(Buffer.concat([int16(1), int64(42n), str(''), int64(1000n), int64(2000n)]))).toEqual({ offset: 42n, leaderEpoch: -1, metadata: '', commitTimestamp: 1000 });
    expect(decodeOffsetCommitValue(Buffer.concat([int16(0), int64(9n), str('x'), int64(5n)]))).toEqual({ offset: 9n, leaderEpoch: -1, metadata: 'x', commitTimestamp: 5 });
    expect(decodeOffsetCommitValue(Buffer.concat([int16(2), int64(10n), str(''), int64(6n)]))).toEqual({ offset: 10n, leaderEpoch: -1, metadata: '', commitTimestamp: 6 });
  });

  it('reads a flexible version 4 value: compact metadata string and tagged fields', () => {
    // metadata "ab" as a compact string (length + 1 = 3), then one tagged field (tag 0, 2 bytes).
    const value = Buffer.concat([int16(4), int64(77n), int32(-1), Buffer.from([3]), Buffer.from('ab'), int64(9n), Buffer.from([1, 0, 2, 0xaa, 0xbb])]);
    expect(decodeOffsetCommitValue(value)).toEqual({ offset: 77n, leaderEpoch: -1, metadata: 'ab', commitTimestamp: 9 });
  });

  it('refuses a value version it does not know, and bytes left over, rather than guess an offset', () => {
    expect(() => decodeOffsetCommitValue(Buffer.concat([int16(5), int64(1n)]))).toThrow(/version 5/);
    expect(() => decodeOffsetCommitValue(Buffer.concat([int16(3), int64(1n), int32(0), str(''), int64(1n), int16(0)]))).toThrow(/left over/);
  });

  it('tells a commit from a deleted offset (null value) and from group metadata', () => {
    const k = key(1, 'g', 't', 2);
    expect(decodeOffsetsRecord(k, Buffer.concat([int16(3), int64(3n), int32(0), str(''), int64(1n)]))).toMatchObject({ kind: 'commit', group: 'g', topic: 't', partition: 2, offset: 3n });
    expect(decodeOffsetsRecord(k, null)).toEqual({ kind: 'deleted', group: 'g', topic: 't', partition: 2 });
    expect(decodeOffsetsRecord(Buffer.concat([int16(2), str('g')]), Buffer.alloc(10))).toBeUndefined();
    expect(decodeOffsetsRecord(null, null)).toBeUndefined();
  });
});

describe('placing a group on a partition of __consumer_offsets as Kafka does', () => {
  it('hashes like Java String.hashCode', () => {
    // Java's own values, the last one the smallest int.
    expect(javaStringHash('')).toBe(0);
    expect(javaStringHash('a')).toBe(97);
    expect(javaStringHash('hello world')).toBe(1794106052);
    expect(javaStringHash('testgroup')).toBe(-1172783827);
    expect(javaStringHash('polygenelubricants')).toBe(-2147483648);
  });

  it('takes the absolute hash (0 for the smallest int), modulo the partition count', () => {
    // "testgroup".hashCode() is -1172783827: its absolute value, not its low 31 bits, decides.
    expect(offsetsPartitionFor('testgroup', 50)).toBe(27);
    expect(offsetsPartitionFor('a', 50)).toBe(47);
    expect(offsetsPartitionFor('polygenelubricants', 50)).toBe(0);
  });
});

describe('checking the offsets a group committed', () => {
  let at = 0n;
  const commit = (group: string, partition: number, offset: bigint): OffsetCommit => ({ group, topic: 't', partition, offset, leaderEpoch: -1, metadata: '', commitTimestamp: 0, recordPartition: 0, recordOffset: at++ });
  const ends = new Map([['t', new Map([[0, 100n], [1, 50n]])]]);

  it('accepts offsets that only move forward (or repeat) per partition, within the end offset', () => {
    const result = checkOffsetCommits([commit('a', 0, 10n), commit('a', 1, 5n), commit('a', 0, 10n), commit('a', 0, 100n), commit('b', 0, 3n)], ends);
    expect(result).toEqual({ counts: { a: 4, b: 1 }, backwards: [], outOfRange: [] });
  });

  it('reports a commit below one the group already made for the partition, even after later ones', () => {
    const result = checkOffsetCommits([commit('a', 0, 10n), commit('a', 0, 60n), commit('a', 0, 40n), commit('a', 0, 50n), commit('a', 0, 70n)], ends);
    expect(result.backwards).toHaveLength(2);
    expect(result.backwards[0]).toMatch(/^a t\[0\] offset 40 .* after 60/);
    expect(result.backwards[1]).toMatch(/^a t\[0\] offset 50 .* after 60/);
  });

  it('reports a commit past the partition end, below zero, or for a partition with no end offset', () => {
    const result = checkOffsetCommits([commit('a', 1, 51n), commit('a', 0, -1n), commit('a', 2, 1n)], ends);
    expect(result.outOfRange).toHaveLength(3);
    expect(result.outOfRange[0]).toMatch(/offset 51 .*end offset 50/);
  });
});
