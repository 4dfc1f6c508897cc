import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateRegistry } from '../../support/registry-instance.js';
import { uniqueName } from '../../support/unique.js';

const brokers = process.env.KAFKA_BROKERS!.split(',');
const kafka = new Kafka({ clientId: 'stack-test', brokers, logLevel: logLevel.NOTHING });

const schema = {
  type: 'record',
  name: 'StackProbe',
  namespace: 'dev.ragsync.test',
  fields: [
    { name: 'sku', type: 'string' },
    { name: 'title', type: 'string' },
    { name: 'qty', type: 'long' },
    { name: 'tags', type: { type: 'array', items: 'string' } },
  ],
};

async function roundTrip(registry: SchemaRegistry, topic: string, value: object): Promise<unknown> {
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${topic}-value` });
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'probe-1', value: await registry.encode(id, value) }] });
  await producer.disconnect();
  return readFirst(registry, topic);
}

async function readFirst(registry: SchemaRegistry, topic: string): Promise<unknown> {
  const consumer = kafka.consumer({ groupId: uniqueName('stack-group'), allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const decoded = await new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no record on ${topic} within 30 s`)), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve(await registry.decode(message.value!));
      },
    });
  });
  await consumer.disconnect();
  return decoded;
}

describe('the local stack', () => {
  let admin: Admin;
  const topics: string[] = [];

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  async function newTopic(label: string): Promise<string> {
    const topic = uniqueName(label);
    await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    topics.push(topic);
    return topic;
  }

  it('refuses to create topics on first use', async () => {
    const producer = kafka.producer({ allowAutoTopicCreation: true, retry: { retries: 1 } });
    await producer.connect();
    const topic = uniqueName('never-created');
    await expect(producer.send({ topic, messages: [{ value: 'x' }] })).rejects.toThrow();
    await producer.disconnect();
    expect(await admin.listTopics()).not.toContain(topic);
  });

  it('round-trips an Avro record through the real registry and the real broker', async () => {
    const registry = new SchemaRegistry({ host: process.env.SCHEMA_REGISTRY_URL! });
    const topic = await newTopic('stack-avro');
    const value = { sku: 'LAMP-07', title: 'Brass desk lamp', qty: 12, tags: ['lighting', 'brass'] };
    expect(await roundTrip(registry, topic, value)).toEqual(value);
  });

  it('round-trips a value through Redis', async () => {
    const redis = new Redis(process.env.REDIS_URL!);
    const key = `${uniqueName('stack')}:probe`;
    try {
      await redis.set(key, 'Ünïcode ✓', 'EX', 60);
      expect(await redis.get(key)).toBe('Ünïcode ✓');
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });

  it('decodes a record written before a registry restart', async () => {
    const name = uniqueName('registry');
    const instance = await privateRegistry(name, brokers.join(','));
    await instance.start();
    try {
      const topic = await newTopic('stack-restart');
      const value = { sku: 'MUG-3', title: 'Stoneware mug', qty: 40, tags: [] };
      expect(await roundTrip(new SchemaRegistry({ host: instance.url }), topic, value)).toEqual(value);
      await instance.stop();
      await instance.start();
      // A fresh client has no cached schemas: it must fetch the writer schema from the restarted registry.
      expect(await readFirst(new SchemaRegistry({ host: instance.url }), topic)).toEqual(value);
    } finally {
      await instance.stop();
      await admin.deleteTopics({ topics: [`${name}-journal`, `${name}-snapshots`] }).catch(() => undefined);
    }
  });
});
