/**
 * The ceilings the pipeline runs under on this machine, measured in the same run:
 * - Kafka: the same records (the generated entities as their NDJSON lines, keyed by entity) produced
 *   and consumed by a plain kafkajs client with no processing, acks from all replicas;
 * - the model: texts/s of the embedder called in-process with batches of the size ragsync's embed
 * * stage sends (config embedder.batchSize, default 64), on chunk-sized texts of the same catalog.
 */
import { Kafka, logLevel } from 'kafkajs';
import type { Embedder } from '../src/embedders/embedder.js';
import { generateEntities, type PublishLine } from '../test/support/generate-entities.js';

export interface KafkaLimits {
  records: number;
  bytes: number;
  partitions: number;
  produceSeconds: number;
  producePerSecond: number;
  consumeSeconds: number;
  consumePerSecond: number;
}

export async function measureKafka(brokers: string[], options: { count: number; partitions: number; topic: string }): Promise<KafkaLimits> {
  const kafka = new Kafka({ clientId: 'ragsync-bench-raw', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const lines = generateEntities(options.count, { tenant: 'bench', seed: 7 });
  const messages = lines.map((l: PublishLine) => ({ key: `${l.tenant}/${l.type}/${l.id}/${l.store_id}`, value: Buffer.from(JSON.stringify(l)) }));
  const bytes = messages.reduce((n, m) => n + m.value.length + m.key.length, 0);
  try {
    await admin.createTopics({ topics: [{ topic: options.topic, numPartitions: options.partitions, replicationFactor: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const started = performance.now();
    const inFlight: Promise<unknown>[] = [];
    for (let i = 0; i < messages.length; i += 2000) {
      inFlight.push(producer.send({ topic: options.topic, acks: -1, messages: messages.slice(i, i + 2000) }));
      if (inFlight.length >= 4) await inFlight.shift();
    }
    await Promise.all(inFlight);
    const produceSeconds = (performance.now() - started) / 1000;
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${options.topic}.raw`, maxBytes: 16 * 1024 * 1024 });
    await consumer.connect();
    await consumer.subscribe({ topic: options.topic, fromBeginning: true });
    let seen = 0;
    let firstAt = 0;
    const done = new Promise<number>((resolve) => {
      void consumer.run({
        eachBatchAutoResolve: true,
        eachBatch: async ({ batch }) => {
          if (firstAt === 0) firstAt = performance.now();
          seen += batch.messages.length;
          if (seen >= messages.length) resolve(performance.now());
        },
      });
    });
    const consumeStarted = performance.now();
    const finished = await Promise.race([done, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`raw consume: ${seen} of ${messages.length} records after 300 s`)), 300_000))]);
    await consumer.disconnect();
    // From the first fetched batch: joining the group is not part of the consume rate.
    const consumeSeconds = (finished - (firstAt || consumeStarted)) / 1000;
    return { records: messages.length, bytes, partitions: options.partitions, produceSeconds, producePerSecond: messages.length / produceSeconds, consumeSeconds, consumePerSecond: messages.length / consumeSeconds };
  } finally {
    await admin.deleteTopics({ topics: [options.topic] }).catch(() => undefined);
    await admin.deleteGroups([`${options.topic}.raw`]).catch(() => undefined);
    await admin.disconnect();
  }
}

export interface ModelLimits {
  model: string;
  batchSize: number;
  texts: number;
  seconds: number;
  textsPerSecond: number;
  /** Mean characters per text measured (the model's cost grows with a text's length). */
  meanChars: number;
}

/** Sentences of the generated catalog, about a chunk each, `count` of them. */
export function chunkTexts(count: number): string[] {
  const lines = generateEntities(Math.max(10, Math.ceil(count / 2)), { tenant: 'bench', seed: 11 });
  const texts: string[] = [];
  for (const line of lines) {
    const data = line.data ?? {};
    const text = Object.values(data)
      .filter((v): v is string => typeof v === 'string')
      .join('. ')
      .replace(/<[^>]+>/g, ' ');
    texts.push(text.slice(0, 1200));
    if (texts.length >= count) break;
  }
  while (texts.length < count) texts.push(texts[texts.length % Math.max(1, texts.length)]!);
  return texts;
}

/**
 * Texts/s of `embedder` called in batches of `batchSize`, one call after the other, on `texts`
 * (a number: that many chunk-sized texts of the generated catalog; an array: those texts).
 */
export async function measureModel(embedder: Embedder, options: { texts: number | string[]; batchSize: number; model: string }): Promise<ModelLimits> {
  const texts = typeof options.texts === 'number' ? chunkTexts(options.texts) : options.texts;
  await embedder.embed(texts.slice(0, 2)); // warm-up: the first run allocates the session's buffers
  const started = performance.now();
  for (let i = 0; i < texts.length; i += options.batchSize) await embedder.embed(texts.slice(i, i + options.batchSize));
  const seconds = (performance.now() - started) / 1000;
  const meanChars = texts.reduce((sum, text) => sum + text.length, 0) / Math.max(1, texts.length);
  return { model: options.model, batchSize: options.batchSize, texts: texts.length, seconds, textsPerSecond: texts.length / seconds, meanChars };
}
