import type { Admin } from 'kafkajs';

/** One partition of a group's input: its offsets and the group's lag on it. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** First offset still held (log start). */
  low: number;
  /** End offset: the offset the next record will get. */
  high: number;
  /** Offset the group committed (the next record it reads); null when it never committed. */
  committed: number | null;
  /** high − committed, or high − low without a commit (as `groupLag` counts it). */
  lag: number;
}

/**
 * Lag of a group on every partition of its input topics, as Kafka's admin API gives it: end offsets
 * and committed offsets. Sums to `groupLag`'s figure.
 */
export async function partitionLags(admin: Admin, group: string, topics: readonly string[]): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
  const result: PartitionLag[] = [];
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const offsets = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const p of [...ends].sort((a, b) => a.partition - b.partition)) {
      const high = Number(p.high);
      const low = Number(p.low);
      const done = Number(offsets.find((o) => o.partition === p.partition)?.offset ?? -1);
      result.push({ topic, partition: p.partition, low, high, committed: done < 0 ? null : done, lag: Math.max(0, high - (done < 0 ? low : done)) });
    }
  }
  return result;
}

/**
 * Records produced to a topic since `since` (epoch ms): per partition, the end offset minus the
 * offset of the first record with a timestamp at or after `since` (Kafka's offsets-by-timestamp).
 */
export async function producedSince(admin: Admin, topic: string, since: number): Promise<number> {
  const [ends, from] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchTopicOffsetsByTimestamp(topic, since)]);
  let count = 0;
  for (const p of ends) {
    const start = Number(from.find((f) => f.partition === p.partition)?.offset ?? p.high);
    count += Math.max(0, Number(p.high) - start);
  }
  return count;
}
