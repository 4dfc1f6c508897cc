import type { Kafka } from 'kafkajs';
import { ENTITY_TYPES } from '../../src/core/entities.js';
import { HEADERS } from '../../src/core/records.js';
import { percentile } from './results.js';

/** One hop of the pipeline: the time from a record on one topic to its successor on the next. */
export interface HopFigures {
  hop: string;
  /** Keys seen on both sides of the hop. */
  count: number;
  p50Ms: number;
  p99Ms: number;
}

interface Seen {
  /** The record's Kafka timestamp (set by the producer that wrote it). */
  at: number;
  /** `ragsync-occurred-at`, when the record carries it. */
  occurredAt?: number;
}

function headerTime(value: Buffer | string | (Buffer | string)[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0]?.toString() : value?.toString();
  if (!text) return undefined;
  const number = Number(text);
  return Number.isFinite(number) ? number : Date.parse(text);
}

/** The newest record of each kept key on `topic`, read from the beginning to the end offsets of now. */
async function newestByKey(kafka: Kafka, topic: string, keep: (key: string) => boolean): Promise<Map<string, Seen>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const remaining = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high)]));
  const seen = new Map<string, Seen>();
  if (remaining.size === 0) return seen;
  const consumer = kafka.consumer({ groupId: `ragsync-bench-hops-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const key = message.key?.toString();
            if (key && keep(key)) {
              const occurredAt = headerTime(message.headers?.[HEADERS.occurredAt]);
              seen.set(key, { at: Number(message.timestamp), ...(occurredAt !== undefined ? { occurredAt } : {}) });
            }
            if (Number(message.offset) + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
            if (remaining.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/**
 * Where the time from source to store goes, hop by hop, for the records whose key `keep` accepts:
 * the change's `occurred_at` to its record on `changes.*` (the publisher), then each stage's
 * output record after its input record (map: changes → documents, chunk: documents → chunks,
 * embed: chunks → vectors), by the Kafka timestamps their producers set. The store's own hop is
 * not in Kafka; `storeP50Ms` is what is left of the measured source-to-indexed p50.
 */
export async function hopDelays(kafka: Kafka, prefix: string, keep: (key: string) => boolean): Promise<HopFigures[]> {
  const changes = new Map<string, Seen>();
  for (const type of ENTITY_TYPES) for (const [k, v] of await newestByKey(kafka, `${prefix}changes.${type}`, keep)) changes.set(k, v);
  const documents = await newestByKey(kafka, `${prefix}documents`, keep);
  const chunks = await newestByKey(kafka, `${prefix}chunks`, keep);
  const vectors = await newestByKey(kafka, `${prefix}vectors`, keep);
  const hop = (name: string, from: Map<string, Seen>, to: Map<string, Seen>, start: (s: Seen) => number | undefined = (s) => s.at): HopFigures => {
    const delays: number[] = [];
    for (const [key, before] of from) {
      const after = to.get(key);
      const t0 = start(before);
      if (after && t0 !== undefined) delays.push(after.at - t0);
    }
    return { hop: name, count: delays.length, p50Ms: percentile(delays, 50) ?? 0, p99Ms: percentile(delays, 99) ?? 0 };
  };
  return [
    hop('publish (occurred_at → changes)', changes, changes, (s) => s.occurredAt),
    hop('map (changes → documents)', changes, documents),
    hop('chunk (documents → chunks)', documents, chunks),
    hop('embed (chunks → vectors)', chunks, vectors),
    hop('source to vectors (occurred_at → vectors)', changes, vectors, (s) => s.occurredAt),
  ];
}
