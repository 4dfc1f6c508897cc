import { withAdmin } from './admin.js';
import type { createKafka } from './client.js';
import { describeTopicConfigs } from './topic-state.js';

/**
 * The offsets a resync steers by: end offsets of topics at a moment, and how far a consumer group
 * has committed on them. A group has passed a target when its committed offset on every partition
 * is at or beyond the target's end offset there (an empty partition needs no commit).
 */
export type KafkaClient = ReturnType<typeof createKafka>;

/** Per full topic name, per partition: an offset. */
export type Offsets = Map<string, Map<number, number>>;

export interface PartitionSpan {
  low: number;
  high: number;
}

export async function topicSpans(kafka: KafkaClient, topics: readonly string[]): Promise<Map<string, Map<number, PartitionSpan>>> {
  return withAdmin(kafka, async (admin) => {
    const spans = new Map<string, Map<number, PartitionSpan>>();
    for (const topic of topics) {
      const offsets = await admin.fetchTopicOffsets(topic);
      spans.set(topic, new Map(offsets.map((p) => [p.partition, { low: Number(p.low), high: Number(p.high) }])));
    }
    return spans;
  });
}

export async function endOffsets(kafka: KafkaClient, topics: readonly string[]): Promise<Offsets> {
  const spans = await topicSpans(kafka, topics);
  return new Map([...spans].map(([topic, parts]) => [topic, new Map([...parts].map(([p, span]) => [p, span.high]))]));
}

export async function committedOffsets(kafka: KafkaClient, groupId: string, topics: readonly string[]): Promise<Offsets> {
  return withAdmin(kafka, async (admin) => {
    const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
    return new Map(committed.map((t) => [t.topic, new Map(t.partitions.map((p) => [p.partition, Number(p.offset)]))]));
  });
}

export interface PassProgress {
  /** Records between the start of each partition and the group's position (capped at the target). */
  done: number;
  /** Records between the start of each partition and the target. */
  total: number;
  passed: boolean;
}

/**
 * How far a group is towards a target. Pure. `lows` are the partitions' first offsets (what
 * compaction or retention kept); a partition the group never committed counts from there.
 */
export function passProgress(target: Offsets, committed: Offsets, lows: Offsets): PassProgress {
  let done = 0;
  let total = 0;
  let passed = true;
  for (const [topic, partitions] of target) {
    for (const [partition, end] of partitions) {
      const low = Math.min(lows.get(topic)?.get(partition) ?? 0, end);
      const position = committed.get(topic)?.get(partition) ?? -1;
      const at = position < 0 ? low : Math.min(Math.max(position, low), end);
      total += end - low;
      done += at - low;
      if (at < end) passed = false;
    }
  }
  return { done, total, passed };
}

/** Members of a consumer group now (0 when the group is empty or unknown). */
export async function groupMembers(kafka: KafkaClient, groupId: string): Promise<number> {
  return withAdmin(kafka, async (admin) => (await admin.describeGroups([groupId])).groups[0]?.members.length ?? 0);
}

/** Consumer groups whose id starts with the prefix. */
export async function groupsWithPrefix(kafka: KafkaClient, prefix: string): Promise<string[]> {
  return withAdmin(kafka, async (admin) => (await admin.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix)).sort());
}

/** Deletes the groups (they must have no members); returns the ones deleted. */
export async function deleteGroups(kafka: KafkaClient, groupIds: readonly string[]): Promise<string[]> {
  if (groupIds.length === 0) return [];
  return withAdmin(kafka, async (admin) => {
    const deleted: string[] = [];
    for (const groupId of groupIds) {
      // One at a time: a group that still has members fails alone and is reported by the caller.
      try {
        await admin.deleteGroups([groupId]);
        deleted.push(groupId);
      } catch {
        // Left for the next resync's cleanup.
      }
    }
    return deleted;
  });
}

/** The largest `delete.retention.ms` of the topics (how long a tombstone stays readable). */
export async function deleteRetentionMs(kafka: KafkaClient, topics: readonly string[], fallback: number): Promise<number> {
  return withAdmin(kafka, async (admin) => {
    const configs = await describeTopicConfigs(admin, [...topics]);
    let longest = 0;
    for (const topic of topics) {
      const value = Number(configs.get(topic)?.get('delete.retention.ms'));
      if (Number.isFinite(value) && value > longest) longest = value;
    }
    return longest > 0 ? longest : fallback;
  });
}
