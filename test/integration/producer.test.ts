import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { ChangeMessage } from '../../src/core/changes.js';
import { PermanentError, RetryableError } from '../../src/core/errors.js';
import { formatKey, parseKey } from '../../src/core/keys.js';
import { HEADERS } from '../../src/core/records.js';
import { createKafka } from '../../src/kafka/client.js';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { ProducerThread, packRecords } from '../../src/kafka/producer-thread.js';
import { encodePublishUnits, sendEncodedUnits } from '../../src/producers/publish-units.js';
import { RegistryClient } from '../../src/kafka/registry.js';
import { RegistrySerde } from '../../src/kafka/serde.js';
import { applyTopics } from '../../src/kafka/topics.js';
import { CHANGE_TYPES } from '../../src/core/entities.js';
import { SAMPLES } from '../unit/schemas/samples.js';
import { readAll as readToEnd, testKafka } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';

interface ReadRecord {
  key: string;
  value: unknown;
  headers: Record<string, string>;
  partition: number;
}

let kafka: Kafka;
let admin: Admin;
const prefixes: string[] = [];
const registry = new RegistryClient(loadConfig().registry);

/** A config with its own topic prefix; the topics are created here and deleted after the file. */
async function freshTopics(overrides: Record<string, unknown> = {}): Promise<Config> {
  const config = loadConfig({ overrides: { 'topics.prefix': `${uniqueName('producer')}.`, 'topics.partitions': 3, 'kafka.ackTimeoutMs': 20_000, ...overrides } });
  prefixes.push(config.topics.prefix);
  await applyTopics(admin, config, { groups: [], terminalGroups: [] });
  return config;
}

/** Reads a topic from the start until `count` records arrived. */
async function readAll(config: Config, logical: string, count: number): Promise<ReadRecord[]> {
  const topic = `${config.topics.prefix}${logical}`;
  const serde = new RegistrySerde(registry, { prefix: config.topics.prefix });
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), allowAutoTopicCreation: false });
  const records: ReadRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${records.length} of ${count} records arrived on ${topic}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          const value = message.value === null ? null : await serde.decode(topic, message.value);
          records.push({ key: message.key!.toString('utf8'), value, headers, partition });
          if (records.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return records;
}

function productSave(config: Config, entityId: string, version: bigint, name: string): ChangeMessage {
  const key = formatKey({ tenant: 'north-wind_2', entityType: 'product', entityId, storeId: 1 });
  const value = { ...SAMPLES.product.full, entity_id: entityId, source_version: version, name };
  return { type: 'product', key, value, sourceVersion: version, occurredAt: 1_767_350_400_000 + Number(version) };
}

beforeAll(async () => {
  kafka = createKafka(loadConfig());
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  const { topics } = { topics: await admin.listTopics() };
  const ours = topics.filter((t) => prefixes.some((p) => t.startsWith(p)));
  if (ours.length > 0) await admin.deleteTopics({ topics: ours }).catch(() => undefined);
  for (const prefix of prefixes) {
    for (const type of CHANGE_TYPES) await registry.deleteSubject(RegistrySerde.subject(`${prefix}changes.${type}`)).catch(() => undefined);
  }
  await admin.disconnect();
});

describe('the Kafka change sink', () => {
  it('keeps the third of three saves of one product as the last value of its key', async () => {
    const config = await freshTopics();
    const sink = new KafkaChangeSink(kafka, config);
    try {
      for (const [i, name] of ['Lantern', 'Lantern II', 'Lantern III'].entries()) {
        await sink.publish([productSave(config, 'LAMP-7', BigInt(i + 1), name)]);
      }
    } finally {
      await sink.close();
    }
    const records = await readAll(config, 'changes.product', 3);
    const last = new Map(records.map((r) => [r.key, r]));
    expect(last.size).toBe(1);
    const [record] = [...last.values()];
    expect(record!.value).toMatchObject({ name: 'Lantern III', source_version: 3n });
    expect(record!.headers[HEADERS.sourceVersion]).toBe('3');
  });

  it('carries an entity id with slash, hash and space unchanged through key, topic and decode', async () => {
    const config = await freshTopics();
    const sink = new KafkaChangeSink(kafka, config);
    const id = 'AB/12#rot grün';
    try {
      await sink.publish([productSave(config, id, 5n, 'Odd id')]);
    } finally {
      await sink.close();
    }
    const [record] = await readAll(config, 'changes.product', 1);
    expect(record!.key).toBe('north-wind_2/product/AB%2F12%23rot%20gr%C3%BCn/1');
    expect((record!.value as { entity_id: string }).entity_id).toBe(id);
  });

  it('sends a delete as a tombstone with version and time in the headers', async () => {
    const config = await freshTopics();
    const sink = new KafkaChangeSink(kafka, config);
    const key = formatKey({ tenant: 't1', entityType: 'cms_page', entityId: 'faq', storeId: 0 });
    try {
      await sink.publish([{ type: 'cms_page', key, value: null, sourceVersion: 9_007_199_254_740_993n, occurredAt: 1_767_000_000_000 }]);
    } finally {
      await sink.close();
    }
    const [record] = await readAll(config, 'changes.cms_page', 1);
    expect(record).toMatchObject({ key, value: null });
    expect(record!.headers).toMatchObject({ [HEADERS.sourceVersion]: '9007199254740993', [HEADERS.occurredAt]: '1767000000000' });
  });

  describe('when many callers publish at once', () => {
    it('acknowledges every call and keeps the order of each key', async () => {
      const config = await freshTopics();
      const sink = new KafkaChangeSink(kafka, config, { maxBatchRecords: 50, maxBufferedRecords: 120 });
      const ids = Array.from({ length: 20 }, (_, i) => `P-${i}`);
      try {
        // 20 keys × 10 versions, the versions of one key published one after the other, the keys at once.
        await Promise.all(
          ids.map(async (id) => {
            for (let v = 1n; v <= 10n; v++) await sink.publish([productSave(config, id, v, `${id} v${v}`)]);
          }),
        );
      } finally {
        await sink.close();
      }
      const records = await readAll(config, 'changes.product', 200);
      const versionsByKey = new Map<string, bigint[]>();
      for (const r of records) {
        const value = r.value as { entity_id: string; source_version: bigint };
        versionsByKey.set(value.entity_id, [...(versionsByKey.get(value.entity_id) ?? []), value.source_version]);
      }
      expect(versionsByKey.size).toBe(20);
      for (const versions of versionsByKey.values()) expect(versions).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    });
  });

  describe('when one value does not match its schema', () => {
    it('rejects the call naming the record and the field, and sends nothing of it', async () => {
      const config = await freshTopics();
      const sink = new KafkaChangeSink(kafka, config);
      const good = productSave(config, 'OK-1', 1n, 'Fine');
      const bad = { ...productSave(config, 'BAD-1', 1n, 'Broken'), value: { ...SAMPLES.product.full, status: 'gone' } };
      try {
        const error = await sink.publish([good, bad]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PermanentError);
        expect((error as Error).message).toMatch(/^record 1 .*status/);
        await sink.publish([productSave(config, 'MARKER', 2n, 'After')]);
      } finally {
        await sink.close();
      }
      // Only the marker published after the failed call is on the topic.
      const records = await readAll(config, 'changes.product', 1);
      expect(records.map((r) => (r.value as { entity_id: string }).entity_id)).toEqual(['MARKER']);
    });
  });

  describe('when a record is over the topics\' max.message.bytes', () => {
    const sized = (config: Config, id: string, bytes: number): ChangeMessage => ({
      ...productSave(config, id, 1n, id),
      value: { ...SAMPLES.product.full, entity_id: id, name: id, description: 'x'.repeat(bytes) },
    });
    const idsOn = async (config: Config) =>
      (await readToEnd(testKafka(), `${config.topics.prefix}changes.product`)).map((r) => parseKey(r.key).entityId);

    it('refuses the call naming that record, before any record of it is sent', async () => {
      const config = await freshTopics({ 'topics.maxMessageBytes': 64 * 1024 });
      const sink = new KafkaChangeSink(kafka, config);
      try {
        // Small records on every partition, and one of 100 KB.
        const error = await sink.publish([...Array.from({ length: 6 }, (_, i) => sized(config, `SMALL-${i}`, 100)), sized(config, 'BIG', 100_000)]).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PermanentError);
        expect(error).toMatchObject({ code: 'record_too_large', refusals: [{ index: 6, code: 'record_too_large' }] });
        await sink.publish([productSave(config, 'MARKER', 2n, 'After')]);
      } finally {
        await sink.close();
      }
      expect(await idsOn(config)).toEqual(['MARKER']);
    });

    it('splits one call\'s records into produce requests that each fit, so small records are never refused together', async () => {
      const config = await freshTopics({ 'topics.maxMessageBytes': 64 * 1024 });
      const sink = new KafkaChangeSink(kafka, config);
      try {
        // Ten records of 20 KB for one key: one partition, 200 KB in all.
        await sink.publish(Array.from({ length: 10 }, (_, i) => ({ ...sized(config, 'SAME', 20_000), sourceVersion: BigInt(i + 1) })));
      } finally {
        await sink.close();
      }
      expect(await idsOn(config)).toEqual(Array(10).fill('SAME'));
    });

    it('when Kafka itself refuses it (the topic takes less than configured): answers each caller on its own and loses no later record', async () => {
      // The topics take 64 KiB; the sink believes 4 MiB, so a 100 KB record passes its check and
      // reaches Kafka inside a produce request shared with 20 other callers.
      const config = await freshTopics({ 'topics.maxMessageBytes': 64 * 1024 });
      const sink = new KafkaChangeSink(kafka, { ...config, topics: { ...config.topics, maxMessageBytes: 4 * 1024 * 1024 } });
      let results: PromiseSettledResult<void>[];
      try {
        results = await Promise.allSettled([...Array.from({ length: 20 }, (_, i) => sink.publish([sized(config, `TOGETHER-${i}`, 100)])), sink.publish([sized(config, 'BIG', 100_000)])]);
        // kafkajs rolls back the sequence numbers of every partition of a failed request; a
        // producer that kept them would now lose (as duplicates) or refuse the next records.
        for (let i = 0; i < 60; i++) await sink.publish([sized(config, `AFTER-${i}`, 100)]);
      } finally {
        await sink.close();
      }
      expect(results.slice(0, 20).map((r) => r.status)).toEqual(Array(20).fill('fulfilled'));
      expect(results[20]).toMatchObject({ status: 'rejected', reason: { code: 'record_too_large' } });
      const ids = await idsOn(config);
      expect(ids.filter((id) => id.startsWith('AFTER-'))).toEqual(expect.arrayContaining(Array.from({ length: 60 }, (_, i) => `AFTER-${i}`)));
      expect(ids.filter((id) => id.startsWith('AFTER-'))).toHaveLength(60);
      // The shared request was resent per caller: a record Kafka had already appended may be there twice (same version, harmless).
      expect(new Set(ids.filter((id) => id.startsWith('TOGETHER-'))).size).toBe(20);
      expect(ids).not.toContain('BIG');
    });
  });

  describe('when Kafka does not answer', () => {
    it('rejects with kafka_ack_timeout within the deadline and still closes promptly', async () => {
      const config = loadConfig({ overrides: { 'kafka.brokers': ['127.0.0.1:1'], 'kafka.ackTimeoutMs': 1500, 'topics.prefix': `${uniqueName('dead')}.` } });
      const sink = new KafkaChangeSink(createKafka(config), config);
      const started = Date.now();
      const error = await sink.publish([productSave(config, 'X', 1n, 'x')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('kafka_ack_timeout');
      expect(Date.now() - started).toBeLessThan(1500 + 10_000);
      const closing = Date.now();
      await sink.close();
      expect(Date.now() - closing).toBeLessThan(2 * 1500 + 1000);
    });
  });

  describe('with the producer on a thread of its own', () => {
    it('publishes in order, answers Kafka\'s refusal of one caller with its class and code, and loses no later record', async () => {
      // As the test above, through the thread: the topics take 64 KiB, the sink believes 4 MiB.
      const config = await freshTopics({ 'topics.maxMessageBytes': 64 * 1024 });
      const sink = new KafkaChangeSink(kafka, { ...config, topics: { ...config.topics, maxMessageBytes: 4 * 1024 * 1024 } }, { producerThread: {} });
      const sized = (id: string, bytes: number, version = 1n): ChangeMessage => ({
        ...productSave(config, id, version, id),
        value: { ...SAMPLES.product.full, entity_id: id, name: id, source_version: version, description: 'x'.repeat(bytes) },
      });
      let results: PromiseSettledResult<void>[];
      try {
        for (let v = 1n; v <= 5n; v++) await sink.publish([sized('ORDERED', 100, v)]);
        results = await Promise.allSettled([...Array.from({ length: 10 }, (_, i) => sink.publish([sized(`TOGETHER-${i}`, 100)])), sink.publish([sized('BIG', 100_000)])]);
        for (let i = 0; i < 20; i++) await sink.publish([sized(`AFTER-${i}`, 100)]);
      } finally {
        await sink.close();
      }
      expect(results.slice(0, 10).map((r) => r.status)).toEqual(Array(10).fill('fulfilled'));
      expect(results[10]).toMatchObject({ status: 'rejected', reason: { code: 'record_too_large', errorClass: 'permanent' } });
      expect((results[10] as PromiseRejectedResult).reason).toBeInstanceOf(PermanentError);
      const records = await readToEnd(testKafka(), `${config.topics.prefix}changes.product`);
      const ids = records.map((r) => parseKey(r.key).entityId);
      expect(ids.filter((id) => id === 'ORDERED')).toHaveLength(5);
      expect(records.filter((r) => parseKey(r.key).entityId === 'ORDERED').map((r) => r.headers[HEADERS.sourceVersion])).toEqual(['1', '2', '3', '4', '5']);
      expect(new Set(ids.filter((id) => id.startsWith('AFTER-'))).size).toBe(20);
      expect(ids).not.toContain('BIG');
    });

    it('takes over the thread started ahead of it, once, and publishes through it', async () => {
      const config = await freshTopics();
      const ahead = ProducerThread.prestart();
      // Started ahead once: a second call gives the same thread.
      expect(ProducerThread.prestart()).toBe(ahead);
      const first = new ProducerThread(config);
      const second = new ProducerThread(config);
      const topic = `${config.topics.prefix}changes.product`;
      try {
        expect(first.threadId).toBe(ahead);
        expect(second.threadId).not.toBe(ahead);
        const part = packRecords([{ topic, key: 'shop:1:product:AHEAD', value: Buffer.from('one'), headers: { [HEADERS.sourceVersion]: '1' } }]);
        await first.sendPacked([part], 10_000);
        // Its buffers were handed over with the first call: a second is refused, not left waiting.
        await expect(first.sendPacked([part], 10_000)).rejects.toMatchObject({ code: 'kafka_packed_resent', errorClass: 'system' });
        await second.send([{ topic, key: 'shop:1:product:SECOND', value: null, headers: { [HEADERS.sourceVersion]: '2' } }], 10_000);
      } finally {
        await Promise.all([first.close(5000), second.close(5000)]);
      }
      const records = await readToEnd(testKafka(), topic);
      expect(records.map((r) => [r.key, r.value?.toString() ?? null, r.headers[HEADERS.sourceVersion]]).sort()).toEqual([
        ['shop:1:product:AHEAD', 'one', '1'],
        ['shop:1:product:SECOND', null, '2'],
      ]);
    });

    it('rejects with kafka_ack_timeout when Kafka does not answer, and closes promptly', async () => {
      const config = loadConfig({ overrides: { 'kafka.brokers': ['127.0.0.1:1'], 'kafka.ackTimeoutMs': 1500, 'topics.prefix': `${uniqueName('dead')}.` } });
      const sink = new KafkaChangeSink(createKafka(config), config, { producerThread: {} });
      const error = await sink.publish([productSave(config, 'X', 1n, 'x')]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('kafka_ack_timeout');
      const closing = Date.now();
      await sink.close();
      expect(Date.now() - closing).toBeLessThan(2 * 1500 + 2000);
    });
  });

  describe('publishing units in two steps', () => {
    it.each([
      ['from the calling thread', {}],
      ['packed for a producer thread', { producerThread: {} }],
    ])('leaves out a unit with a record too large for the topic when encoding, and sends the rest of every part as one call (%s)', async (_, options) => {
      const config = await freshTopics({ 'topics.maxMessageBytes': 64 * 1024 });
      const sink = new KafkaChangeSink(kafka, config, options);
      const unit = (id: string, bytes: number) => ({ messages: [{ ...productSave(config, id, 1n, id), value: { ...SAMPLES.product.full, entity_id: id, name: id, description: 'x'.repeat(bytes) } }] });
      try {
        const first = await encodePublishUnits(sink, [unit('FIRST', 100), unit('HUGE', 100_000)], { dataPath: 'data' });
        const second = await encodePublishUnits(sink, [unit('MIDDLE', 100), unit('HUGE-2', 100_000), unit('LAST', 100)], { dataPath: 'data' });
        expect(first).toBeDefined();
        expect(second).toBeDefined();
        // Units numbered across the parts: the second part's HUGE-2 is unit 3 of the call.
        const tooLarge = [{ path: '', message: expect.stringMatching(/^too large: the encoded record takes \d+ bytes/) }];
        expect(await sendEncodedUnits(sink, [first!, second!])).toEqual([
          { unit: 1, issues: tooLarge },
          { unit: 3, issues: tooLarge },
        ]);
      } finally {
        await sink.close();
      }
      const records = await readToEnd(testKafka(), `${config.topics.prefix}changes.product`);
      expect(records.map((r) => parseKey(r.key).entityId).sort()).toEqual(['FIRST', 'LAST', 'MIDDLE']);
      for (const record of records) {
        expect(record.headers[HEADERS.sourceVersion]).toBe('1');
        // A registry-framed Avro value (magic byte 0, then the schema id) holding the 100-character description.
        expect(record.value?.[0]).toBe(0);
        expect(record.value!.length).toBeGreaterThan(100);
      }
    });
  });
});
