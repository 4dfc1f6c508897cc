import { randomBytes } from 'node:crypto';
import type { KafkaClient, Offsets } from './group-offsets.js';

/**
 * The keys of records in a range of offsets of some topics: from `from` (or each partition's start)
 * up to `to` (exclusive), read by a throwaway consumer group that is deleted afterwards. The mark
 * step of the sweep (docs/resync.md): every key a pass saw, tombstones included.
 */
/** How long a partition may deliver nothing before it counts as read to its end. */
const IDLE_MS = 5000;

export interface KeyScanOptions {
  /** Called with the records read so far, now and then. */
  onProgress?: (read: number) => void;
  /** Stops the scan (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

export async function scanKeys(kafka: KafkaClient, to: Offsets, from: Offsets | undefined, groupPrefix: string, options: KeyScanOptions = {}): Promise<{ keys: Set<string>; read: number }> {
  const keys = new Set<string>();
  const pending = new Map<string, number>();
  const starts: Array<{ topic: string; partition: number; offset: number }> = [];
  for (const [topic, partitions] of to) {
    for (const [partition, end] of partitions) {
      const start = from?.get(topic)?.get(partition);
      if (start !== undefined && start >= end) continue;
      if (end <= 0) continue;
      pending.set(`${topic}:${partition}`, end);
      if (start !== undefined) starts.push({ topic, partition, offset: start });
    }
  }
  if (pending.size === 0) return { keys, read: 0 };
  const groupId = `${groupPrefix}scan-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytesPerPartition: 1024 * 1024 });
  let read = 0;
  try {
    await consumer.connect();
    const topics = [...new Set([...pending.keys()].map((k) => k.slice(0, k.lastIndexOf(':'))))];
    await consumer.subscribe({ topics, fromBeginning: true });
    let finish: (error?: unknown) => void = () => undefined;
    const finished = new Promise<void>((resolve, reject) => (finish = (error) => (error === undefined ? resolve() : reject(error))));
    const abort = () => finish(options.signal?.reason ?? new Error('stopped'));
    options.signal?.addEventListener('abort', abort, { once: true });
    // The records just before a partition's end may be gone (compaction removes old tombstones,
    // and the segment after them may be empty): such a partition delivers nothing more. A partition
    // that delivered nothing for IDLE_MS while the member was in the group is taken as read.
    const lastSeen = new Map<string, number>();
    let joinedAt: number | undefined;
    consumer.on(consumer.events.GROUP_JOIN, () => (joinedAt = Date.now()));
    const idle = setInterval(() => {
      if (joinedAt === undefined) return;
      const now = Date.now();
      for (const id of [...pending.keys()]) if (now - Math.max(joinedAt, lastSeen.get(id) ?? 0) > IDLE_MS) pending.delete(id);
      if (pending.size === 0) finish();
    }, 500);
    finished.finally(() => clearInterval(idle)).catch(() => undefined);
    await consumer.run({
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => {
        const id = `${batch.topic}:${batch.partition}`;
        lastSeen.set(id, Date.now());
        const end = pending.get(id);
        if (end === undefined) return;
        for (const message of batch.messages) {
          if (Number(message.offset) >= end) break;
          if (message.key !== null) keys.add(message.key.toString('utf8'));
          read += 1;
        }
        options.onProgress?.(read);
        if (Number(batch.highWatermark) >= end && Number(batch.lastOffset()) >= end - 1) pending.delete(id);
        if (pending.size === 0) finish();
      },
    });
    for (const start of starts) consumer.seek({ topic: start.topic, partition: start.partition, offset: String(start.offset) });
    await finished;
    options.signal?.removeEventListener('abort', abort);
  } finally {
    await consumer.disconnect().catch(() => undefined);
    const admin = kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
  return { keys, read };
}
