import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { enabledStages } from '../../src/core/stages.js';
import { encodeMark } from '../../src/kafka/dlq-marks.js';
import { applyTopics } from '../../src/kafka/topics.js';
import { testKafka } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';
import { runCli } from '../support/cli.js';

/**
 * `ragsync status --json` against the real broker, each number checked against what Kafka's admin
 * API says: lag per group from end offsets minus committed offsets, DLQ depth as held records
 * minus those marked replayed.
 */
const prefix = `${uniqueName('status')}.`;

interface StatusJson {
  stages: Array<{ stage: string; group: string; lag: number; dlq?: number }>;
  circuits: Array<{ target: string; state: string }>;
  retries: Array<{ group: string; tiers: Array<{ depth: number }> }>;
}

async function status(): Promise<StatusJson> {
  const { code, out, err } = await runCli(['status', '--json', '--no-store'], { RAGSYNC_TOPIC_PREFIX: prefix, RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '5s,20s' });
  expect(code, err).toBe(0);
  return JSON.parse(out) as StatusJson;
}

describe('ragsync status', () => {
  const kafka = testKafka();
  const config = loadConfig({ env: { ...process.env, RAGSYNC_TOPIC_PREFIX: prefix, RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '5s,20s' } });
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await applyTopics(admin, config);
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    // Bytes only: status reads offsets, never values.
    const records = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: Buffer.from(`${tag} ${i}`) }));
    await producer.send({ topic: `${prefix}changes.product`, acks: -1, messages: records(25, 'product') });
    await producer.send({ topic: `${prefix}changes.category`, acks: -1, messages: records(7, 'category') });
    await producer.send({ topic: `${prefix}vectors`, acks: -1, messages: records(11, 'vectors') });
    await producer.send({ topic: `${prefix}changes.product_price`, acks: -1, messages: records(4, 'price') });
    await producer.send({ topic: `${prefix}store.retry.5s`, acks: -1, messages: records(2, 'waiting') });
    // The map group committed part of one partition of changes.product, and all of changes.category.
    const productEnds = await admin.fetchTopicOffsets(`${prefix}changes.product`);
    const busiest = productEnds.reduce((a, b) => (Number(b.high) > Number(a.high) ? b : a));
    await admin.setOffsets({ groupId: `${prefix}map`, topic: `${prefix}changes.product`, partitions: [{ partition: busiest.partition, offset: String(Number(busiest.high) - 2) }] });
    const categoryEnds = await admin.fetchTopicOffsets(`${prefix}changes.category`);
    await admin.setOffsets({ groupId: `${prefix}map`, topic: `${prefix}changes.category`, partitions: categoryEnds.map((p) => ({ partition: p.partition, offset: p.high })) });
    // Four dead records of map on one partition; the second was replayed.
    const sent = await producer.send({ topic: `${prefix}map.dlq`, acks: -1, messages: records(4, 'dead').map((m) => ({ ...m, partition: 1 })) });
    const base = Number(sent[0]!.baseOffset);
    const [dead] = await readTimestamps(`${prefix}map.dlq`, 1, base + 1);
    await producer.send({
      topic: `${prefix}dlq.marks`,
      acks: -1,
      messages: [{ key: `map:1:${base + 1}`, value: encodeMark({ state: 'replayed', at: new Date().toISOString(), deadLetteredAt: dead, to: { topic: `${prefix}changes.product`, partition: 0, offset: '0', via: 'input' } }) }],
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteGroups([`${prefix}map`]).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  /** The timestamp of the record at `offset`, read with a consumer of the test's own. */
  async function readTimestamps(topic: string, partition: number, offset: number): Promise<number[]> {
    const consumer = kafka.consumer({ groupId: uniqueName('status-read') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const found = new Promise<number[]>((resolve) => {
      void consumer.run({
        eachMessage: async ({ partition: p, message }) => {
          if (p === partition && Number(message.offset) === offset) resolve([Number(message.timestamp)]);
        },
      });
    });
    const result = await found;
    await consumer.disconnect();
    return result;
  }

  /** Lag as Kafka's admin API gives it: per partition, end offset minus committed (or minus start without a commit). */
  async function adminLag(group: string, topics: string[]): Promise<number> {
    let lag = 0;
    for (const topic of topics) {
      const ends = await admin.fetchTopicOffsets(topic);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      for (const p of ends) {
        const at = committed?.partitions.find((c) => c.partition === p.partition)?.offset;
        lag += Number(p.high) - (at !== undefined && Number(at) >= 0 ? Number(at) : Number(p.low));
      }
    }
    return lag;
  }

  it('reports lag per group and DLQ depth as the admin API has them, and every stage with its retry consumer', async () => {
    const shown = await status();
    expect(shown.stages.map((s) => s.stage)).toEqual(['map', 'chunk', 'embed', 'store', 'store.retry']);
    for (const stage of enabledStages({})) {
      const row = shown.stages.find((s) => s.stage === stage.name)!;
      expect(row.group).toBe(`${prefix}${stage.group}`);
      expect(row.lag, stage.name).toBe(await adminLag(row.group, stage.inputs.map((t) => `${prefix}${t}`)));
    }
    const map = shown.stages.find((s) => s.stage === 'map')!;
    // Of the 25 products, the busiest partition's records are committed but its last 2; every category is.
    expect(map.lag).toBeGreaterThan(0);
    expect(map.lag).toBeLessThan(25);
    expect(shown.stages.find((s) => s.stage === 'store')!.lag).toBe(15);
    expect(shown.stages.find((s) => s.stage === 'store.retry')!.lag).toBe(await adminLag(`${prefix}store.retry`, [`${prefix}store.retry.5s`, `${prefix}store.retry.20s`]));
    expect(shown.stages.find((s) => s.stage === 'store.retry')!.lag).toBe(2);
    // Four dead records, one replayed: three to handle.
    expect(map.dlq).toBe(3);
    expect(shown.stages.find((s) => s.stage === 'store')!.dlq).toBe(0);
    expect(shown.retries[0]!.tiers.map((t) => t.depth)).toEqual([2, 0]);
    expect(shown.circuits[0]).toMatchObject({ target: expect.stringMatching(/^lancedb:|^qdrant:/), state: 'closed' });
  });
});
