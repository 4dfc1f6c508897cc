/**
 * Kafka's murmur2 (the Java client's `Utils.murmur2`) over `data`, as a signed 32-bit integer.
 * Java computes it in 32-bit ints; `Math.imul` is that multiplication, so no 64-bit emulation is
 * needed. The same numbers as kafkajs' `Partitioners.DefaultPartitioner` uses (a test checks them).
 */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  const length = data.length;
  let h = 0x9747b28c ^ length;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  // The last one to three bytes (Java's switch that falls through its cases).
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= data[end + 2]! << 16;
    if (tail >= 2) h ^= data[end + 1]! << 8;
    h ^= data[end]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition hash of a key, before the modulo by the partition count: murmur2 of its bytes made
 * positive by `& 0x7fffffff`, as the Java client and kafkajs' default partitioner do. A record with
 * key bytes `key` goes to partition `keyHash(key) % partitionCount`.
 */
export function keyHash(key: Uint8Array): number {
  return murmur2(key) & 0x7fffffff;
}

/** The partition of a record with this UTF-8 key among `partitionCount` partitions. */
export function keyPartition(key: string | Uint8Array, partitionCount: number): number {
  return keyHash(typeof key === 'string' ? Buffer.from(key, 'utf8') : key) % partitionCount;
}
