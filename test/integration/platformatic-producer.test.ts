import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, ResponseError, UserError } from '@platformatic/kafka';
import { Partitioners, type Admin, type Kafka } from 'kafkajs';
import { loadConfig } from '../../src/config/index.js';
import { PermanentError, RetryableError, SystemError } from '../../src/core/errors.js';
import { BatchingProducer, type OutgoingRecord } from '../../src/kafka/batching-producer.js';
import { createIdempotentProducer } from '../../src/kafka/client.js';
import { classifyPlatformaticKafkaError } from '../../src/kafka/kafka-errors.js';
import { keyPartition } from '../../src/kafka/murmur2.js';
import { OrderedSender } from '../../src/kafka/ordered-sender.js';
import { createPlatformaticProducer, javaCompatiblePartitioner, PlatformaticMessageProducer, platformaticProducerOptions } from '../../src/kafka/platformatic-producer.js';
import { readAll, testKafka } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';

/**
 * BatchingProducer over @platformatic/kafka (the producer of `ragsync publish` and `catalog sync`),
 * against the real broker: records acknowledged before `send` resolves and on the partitions
 * kafkajs picks, a record Kafka refuses answered as permanent for its caller only, and an
 * unreachable broker answered as retryable within the caller's deadline.
 */
const config = loadConfig();
const PARTITIONS = 6;
let kafka: Kafka;
let admin: Admin;
const topics: string[] = [];

async function topic(options: { maxMessageBytes?: number } = {}): Promise<string> {
  const name = uniqueName('platformatic');
  topics.push(name);
  await admin.createTopics({
    topics: [
      {
        topic: name,
        numPartitions: PARTITIONS,
        replicationFactor: 1,
        ...(options.maxMessageBytes ? { configEntries: [{ name: 'max.message.bytes', value: String(options.maxMessageBytes) }] } : {}),
      },
    ],
    waitForLeaders: true,
  });
  return name;
}

const record = (topicName: string, key: string, bytes = 100, headers: Record<string, string> = {}): OutgoingRecord => ({
  topic: topicName,
  key,
  value: Buffer.from(`${key}|${'v'.repeat(Math.max(0, bytes - key.length - 1))}`),
  headers: { 'ragsync-source-version': '1', ...headers },
});

const platformatic = (onProducerReplaced?: (cause: Error) => void) =>
  new BatchingProducer(() => createPlatformaticProducer(config, { clientIdSuffix: 'test' }), { maxRequestBytes: 4 * 1024 * 1024, ...(onProducerReplaced ? { onProducerReplaced } : {}) });

/** Keys of every length modulo 4, ASCII and not, some of them with a negative murmur2. */
const KEYS = [
  ...Array.from({ length: 200 }, (_, i) => `acme/product/SKU-${i}/1`),
  ...Array.from({ length: 40 }, (_, i) => `shop/product/Ünïcödé-${'é'.repeat(i % 7)}/${i % 4}`),
  ...Array.from({ length: 40 }, (_, i) => `tenant/category/日本語の商品${'語'.repeat(i % 5)}/${i}`),
  ...Array.from({ length: 20 }, (_, i) => `x/product/🚀${'🚀'.repeat(i % 3)}-${i}/0`),
  '21',
  'foobar',
  '',
];

beforeAll(async () => {
  kafka = testKafka();
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
});

describe('BatchingProducer over @platformatic/kafka', () => {
  it('resolves only once every record is stored, on the partition kafkajs puts its key on, with key, value and headers intact', async () => {
    const ours = await topic();
    const theirs = await topic();
    const sender = platformatic();
    try {
      // Several callers at once (combined into shared requests) and one large call.
      await Promise.all([
        ...KEYS.slice(0, 50).map((key) => sender.send([record(ours, key, 200, { 'ragsync-note': `ñ-${key}` })], 20_000)),
        sender.send(
          KEYS.slice(50).map((key) => record(ours, key, 200, { 'ragsync-note': `ñ-${key}` })),
          20_000,
        ),
      ]);
    } finally {
      await sender.close(5_000);
    }
    // The same keys through kafkajs' own producer and partitioner, for comparison.
    const reference = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await reference.connect();
    await reference.send({ topic: theirs, acks: -1, messages: KEYS.map((key) => ({ key, value: 'x' })) });
    await reference.disconnect();

    // Read right after `send` resolved: an acknowledged record is there.
    const stored = await readAll(kafka, ours);
    expect(stored).toHaveLength(KEYS.length);
    const kafkajsPartition = new Map((await readAll(kafka, theirs)).map((r) => [r.key, r.partition]));
    const partitionsUsed = new Set<number>();
    for (const r of stored) {
      expect(r.partition, `key ${r.key}`).toBe(kafkajsPartition.get(r.key));
      expect(r.partition).toBe(keyPartition(r.key, PARTITIONS));
      expect(r.value!.toString('utf8').split('|')[0]).toBe(r.key);
      expect(r.headers).toEqual({ 'ragsync-source-version': '1', 'ragsync-note': `ñ-${r.key}` });
      partitionsUsed.add(r.partition);
    }
    expect(partitionsUsed.size).toBe(PARTITIONS);
  });

  it('keeps the order of one key\'s records across calls, and writes a null value as a tombstone', async () => {
    const name = await topic();
    const sender = platformatic();
    try {
      for (let v = 1; v <= 5; v++) await sender.send([record(name, 'acme/product/ORDER/1', 100, { 'ragsync-source-version': String(v) })], 20_000);
      await Promise.all(
        Array.from({ length: 5 }, (_, i) => sender.send([record(name, 'acme/product/ORDER/1', 100, { 'ragsync-source-version': String(i + 6) })], 20_000)),
      );
      await sender.send([{ topic: name, key: 'acme/product/ORDER/1', value: null, headers: { 'ragsync-source-version': '11' } }], 20_000);
    } finally {
      await sender.close(5_000);
    }
    const stored = await readAll(kafka, name);
    expect(stored.map((r) => r.headers['ragsync-source-version'])).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    expect(stored.at(-1)!.value).toBeNull();
  });

  it('answers a record over the topic\'s max.message.bytes as permanent to its caller only, replaces the producer and loses no later record', async () => {
    // The topic takes 64 KiB; the sender believes 4 MiB, so a 100 KB record reaches Kafka inside a
    // request shared with other callers.
    const name = await topic({ maxMessageBytes: 64 * 1024 });
    const replaced: Error[] = [];
    const sender = platformatic((cause) => replaced.push(cause));
    let results: PromiseSettledResult<void>[];
    try {
      results = await Promise.allSettled([
        ...Array.from({ length: 20 }, (_, i) => sender.send([record(name, `acme/product/TOGETHER-${i}/1`)], 20_000)),
        sender.send([record(name, 'acme/product/BIG/1', 100_000)], 20_000),
      ]);
      for (let i = 0; i < 30; i++) await sender.send([record(name, `acme/product/AFTER-${i}/1`)], 20_000);
    } finally {
      await sender.close(5_000);
    }
    expect(results.slice(0, 20).map((r) => r.status)).toEqual(Array(20).fill('fulfilled'));
    const refused = (results[20] as PromiseRejectedResult).reason as Error;
    expect(refused).toBeInstanceOf(PermanentError);
    expect(refused).toMatchObject({ code: 'record_too_large', errorClass: 'permanent' });
    expect(refused.message).toMatch(/larger than the max message size/);
    expect(replaced.length).toBeGreaterThan(0);
    const ids = (await readAll(kafka, name)).map((r) => r.key.split('/')[2]!);
    expect(new Set(ids.filter((id) => id.startsWith('TOGETHER-'))).size).toBe(20);
    expect(ids.filter((id) => id.startsWith('AFTER-')).sort()).toEqual(Array.from({ length: 30 }, (_, i) => `AFTER-${i}`).sort());
    expect(ids).not.toContain('BIG');
  });

  it('answers a missing topic as a system error', async () => {
    const sender = platformatic();
    try {
      const error = await sender.send([record(uniqueName('missing'), 'k')], 20_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect(error).toMatchObject({ code: 'topic_missing' });
    } finally {
      await sender.close(5_000);
    }
  });

  it('answers an unreachable broker as retryable within the caller\'s deadline, and closes promptly', async () => {
    const dead = { ...config, kafka: { ...config.kafka, brokers: ['127.0.0.1:1'] } };
    const sender = new BatchingProducer(() => createPlatformaticProducer(dead, { clientIdSuffix: 'test' }));
    const started = Date.now();
    const error = await sender.send([record('nowhere', 'k')], 1500).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect(error).toMatchObject({ code: 'kafka_ack_timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(Date.now() - started).toBeLessThan(1500 + 2000);
    const closing = Date.now();
    await sender.close(1500);
    expect(Date.now() - closing).toBeLessThan(2 * 1500 + 1000);
  });

  it('connects on warmUp, before any record is sent, and the first send uses that connection', async () => {
    const name = await topic();
    const calls: string[] = [];
    const sender = new BatchingProducer(() => {
      const real = createPlatformaticProducer(config, { clientIdSuffix: 'test' });
      return {
        connect: async () => {
          calls.push('connect');
          await real.connect();
          calls.push('connected');
        },
        sendRecords: async (records: OutgoingRecord[]) => {
          calls.push('send');
          await real.sendRecords(records);
        },
        disconnect: () => real.disconnect(),
      };
    });
    try {
      sender.warmUp(10_000);
      await vi.waitFor(() => expect(calls).toEqual(['connect', 'connected']), { timeout: 10_000 });
      await sender.send([record(name, 'warm/1'), record(name, 'warm/2')], 10_000);
    } finally {
      await sender.close(5_000);
    }
    expect(calls).toEqual(['connect', 'connected', 'send']);
    expect((await readAll(kafka, name)).map((r) => r.key).sort()).toEqual(['warm/1', 'warm/2']);
  });

  it('leaves a warmUp that cannot reach the broker to the first send, which fails as it would have', async () => {
    const dead = { ...config, kafka: { ...config.kafka, brokers: ['127.0.0.1:1'] } };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const sender = new BatchingProducer(() => createPlatformaticProducer(dead, { clientIdSuffix: 'test' }));
    try {
      sender.warmUp(300);
      await new Promise((resolve) => setTimeout(resolve, 600));
      const error = await sender.send([record('nowhere', 'k')], 800).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect(error).toMatchObject({ code: 'kafka_ack_timeout' });
    } finally {
      await sender.close(1000);
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('still runs over kafkajs when given a kafkajs producer', async () => {
    const name = await topic();
    const { createKafka } = await import('../../src/kafka/client.js');
    const client = createKafka(config);
    const sender = new BatchingProducer(() => createIdempotentProducer(client));
    try {
      await sender.send(KEYS.slice(0, 30).map((key) => record(name, key)), 20_000);
    } finally {
      await sender.close(5_000);
    }
    const stored = await readAll(kafka, name);
    expect(stored).toHaveLength(30);
    for (const r of stored) expect(r.partition).toBe(keyPartition(r.key, PARTITIONS));
  });
});

describe('a stage\'s OrderedSender over @platformatic/kafka', () => {
  it('stores outputs as the stage hands them over (text and byte keys and headers, a tombstone) on the partitions kafkajs picks, in order', async () => {
    const name = await topic();
    const producer = new PlatformaticMessageProducer(config, { clientIdSuffix: 'test-stage' });
    const sender = new OrderedSender({ producer: async () => (await producer.connect(), producer), onFailure: () => undefined, maxRequestBytes: 64 * 1024 });
    const keys = KEYS.slice(0, 120);
    try {
      const generation = sender.generation;
      // Calls made while a request is in flight share the next one; the byte cap splits them.
      await Promise.all(
        keys.map((key, i) =>
          sender.send(
            [
              {
                topic: name,
                key: i % 2 === 0 ? key : Buffer.from(key, 'utf8'),
                value: Buffer.from(`${key}|${'v'.repeat(900)}`),
                headers: { 'ragsync-source-version': String(i), 'ragsync-note': Buffer.from(`ñ-${i}`, 'utf8') },
              },
            ],
            generation,
          ),
        ),
      );
      await sender.send([{ topic: name, key: keys[0]!, value: null, headers: { 'ragsync-source-version': 'last' } }], generation);
    } finally {
      await producer.disconnect();
    }
    const stored = await readAll(kafka, name);
    expect(stored).toHaveLength(keys.length + 1);
    for (const r of stored.filter((r) => r.headers['ragsync-source-version'] !== 'last')) {
      const i = Number(r.headers['ragsync-source-version']);
      expect(r.key).toBe(keys[i]);
      expect(r.partition, `key ${r.key}`).toBe(keyPartition(r.key, PARTITIONS));
      expect(r.headers['ragsync-note']).toBe(`ñ-${i}`);
      expect(r.value!.toString('utf8').split('|')[0]).toBe(r.key);
    }
    const tombstone = stored.find((r) => r.headers['ragsync-source-version'] === 'last')!;
    expect(tombstone.value).toBeNull();
    expect(tombstone.partition).toBe(keyPartition(keys[0]!, PARTITIONS));
    // One key's records in the order they were handed over: the save, then the tombstone.
    const first = stored.filter((r) => r.key === keys[0]).map((r) => r.headers['ragsync-source-version']);
    expect(first).toEqual(['0', 'last']);
  });
});

describe('classifyPlatformaticKafkaError', () => {
  const produceFailure = (...ids: string[]) =>
    new MultipleErrors('Producing messages failed.', [
      new ResponseError(0, 11, Object.fromEntries(ids.map((id, i) => [`/responses/0/partitions/${i}`, [id, null]])) as unknown as Record<string, [number, null]>, {}),
    ]);

  it('makes a record Kafka refuses permanent', () => {
    for (const id of ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD']) {
      const error = classifyPlatformaticKafkaError(produceFailure('NOT_LEADER_OR_FOLLOWER', id));
      expect(error, id).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ code: 'record_too_large' });
    }
  });

  it('makes refused credentials, missing rights and a missing topic system errors', () => {
    expect(classifyPlatformaticKafkaError(new AuthenticationError('SASL authentication failed.'))).toMatchObject({ errorClass: 'system', code: 'kafka_unauthorized' });
    expect(classifyPlatformaticKafkaError(produceFailure('SASL_AUTHENTICATION_FAILED'))).toMatchObject({ errorClass: 'system', code: 'kafka_unauthorized' });
    expect(classifyPlatformaticKafkaError(produceFailure('TOPIC_AUTHORIZATION_FAILED'))).toMatchObject({ errorClass: 'system', code: 'kafka_unauthorized' });
    expect(classifyPlatformaticKafkaError(new UserError('Unknown topic acme.changes.product.'))).toMatchObject({ errorClass: 'system', code: 'topic_missing' });
  });

  it('makes a broker unreachable, a leader moving, a timeout or too few replicas retryable, with the causes in the message', () => {
    const network = new MultipleErrors('metadata failed 3 times.', [new NetworkError('Connection to 127.0.0.1:1 failed.'), new NetworkError('Connection to 127.0.0.1:1 failed.')]);
    const classified = classifyPlatformaticKafkaError(network);
    expect(classified).toBeInstanceOf(RetryableError);
    expect(classified).toMatchObject({ code: 'kafka_send_failed' });
    expect(classified.message).toBe('Kafka refused the records: metadata failed 3 times. (Connection to 127.0.0.1:1 failed.)');
    for (const id of ['NOT_LEADER_OR_FOLLOWER', 'REQUEST_TIMED_OUT', 'NOT_ENOUGH_REPLICAS', 'LEADER_NOT_AVAILABLE']) {
      expect(classifyPlatformaticKafkaError(produceFailure(id)), id).toBeInstanceOf(RetryableError);
    }
    expect(classifyPlatformaticKafkaError(new ProtocolError('REQUEST_TIMED_OUT'))).toBeInstanceOf(RetryableError);
  });
});

describe('platformaticProducerOptions', () => {
  it('takes brokers, client id, TLS and SASL from the config, as createKafka does', () => {
    const secured = { kafka: { ...config.kafka, brokers: ['a:9093', 'b:9093'], ssl: true, sasl: { mechanism: 'scram-sha-512' as const, username: 'svc', password: 'secret' } } };
    expect(platformaticProducerOptions(secured, { clientIdSuffix: 'producer' })).toMatchObject({
      clientId: `${config.kafka.clientId}-producer`,
      bootstrapBrokers: ['a:9093', 'b:9093'],
      tls: {},
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'svc', password: 'secret' },
      idempotent: true,
      acks: -1,
      compression: 'none',
      autocreateTopics: false,
    });
    for (const [mechanism, expected] of [['plain', 'PLAIN'], ['scram-sha-256', 'SCRAM-SHA-256']] as const) {
      expect(platformaticProducerOptions({ kafka: { ...config.kafka, sasl: { mechanism, username: 'u', password: 'p' } } }).sasl).toEqual({ mechanism: expected, username: 'u', password: 'p' });
    }
    const plain = platformaticProducerOptions({ kafka: { ...config.kafka, ssl: false } });
    expect(plain.tls).toBeUndefined();
    expect(plain.sasl).toBeUndefined();
    // Bounded: the client's idempotent default is to retry forever.
    expect(plain.retries).toBe(10);
  });

  it('partitions by the Java client\'s murmur2, positive by the mask, where the client\'s own default does not', () => {
    // murmur2('21') is negative: `>>> 0` and `& 0x7fffffff` differ by 2^31, i.e. by 2 partitions of 6.
    expect(javaCompatiblePartitioner(undefined, Buffer.from('21')) % 6).toBe(keyPartition('21', 6));
    expect(javaCompatiblePartitioner(undefined, Buffer.from('21'))).toBe((-973932308 & 0x7fffffff));
  });
});
