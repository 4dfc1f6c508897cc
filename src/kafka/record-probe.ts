import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { withAdmin } from './admin.js';

/** A partition position to look at. */
export interface ProbePosition {
  topic: string;
  partition: number;
  offset: number;
}

/** The record found at (or, after compaction or retention, first after) a position. */
export interface ProbedRecord {
  offset: number;
  /** The record's timestamp (epoch ms): when the producer made it, or the broker took it. */
  timestamp: number;
}

export const probeKey = (topic: string, partition: number, offset: number): string => `${topic}:${partition}:${offset}`;

/**
 * Reads one record at each position with one throwaway consumer (no commit, its group deleted
 * after): e.g. the record at a group's committed offset, whose timestamp is the age of the oldest
 * record the group has not processed. Positions at or past a partition's end find nothing. What
 * is not found within `timeoutMs` is left out of the answer rather than failing the whole read.
 */
export async function probeRecords(kafka: Kafka, positions: readonly ProbePosition[], options: { groupPrefix: string; timeoutMs?: number }): Promise<Map<string, ProbedRecord>> {
  const found = new Map<string, ProbedRecord>();
  // Several positions of one partition: read from the first, note each as it passes.
  const pending = new Map<string, { topic: string; partition: number; offsets: number[] }>();
  for (const p of positions) {
    const id = `${p.topic}:${p.partition}`;
    const entry = pending.get(id) ?? { topic: p.topic, partition: p.partition, offsets: [] };
    entry.offsets.push(p.offset);
    pending.set(id, entry);
  }
  for (const entry of pending.values()) entry.offsets.sort((a, b) => a - b);
  if (pending.size === 0) return found;
  const topics = [...new Set(positions.map((p) => p.topic))];
  const groupId = `${options.groupPrefix}status-probe-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 250, maxBytesPerPartition: 64 * 1024, retry: { retries: 2 } });
  let timer: NodeJS.Timeout | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(resolve, options.timeoutMs ?? 10_000);
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const id = `${batch.topic}:${batch.partition}`;
            const entry = pending.get(id);
            if (!entry) {
              consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
              return;
            }
            for (const message of batch.messages) {
              const offset = Number(message.offset);
              // A batch fetched before the seek took effect may lie before the first position.
              while (entry.offsets.length > 0 && offset >= entry.offsets[0]!) {
                found.set(probeKey(entry.topic, entry.partition, entry.offsets.shift()!), { offset, timestamp: Number(message.timestamp) });
              }
            }
            if (entry.offsets.length === 0) {
              pending.delete(id);
              consumer.pause([{ topic: batch.topic, partitions: [batch.partition] }]);
              if (pending.size === 0) resolve();
            }
          },
        })
        .then(() => {
          for (const entry of pending.values()) consumer.seek({ topic: entry.topic, partition: entry.partition, offset: String(entry.offsets[0]) });
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  return found;
}
