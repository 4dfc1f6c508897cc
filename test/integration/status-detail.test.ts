import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { topicCatalogue } from '../../src/kafka/topic-catalogue.js';
import { applyTopics } from '../../src/kafka/topics.js';
import type { PipelineStatus } from '../../src/cli/status.js';
import { testKafka } from '../support/kafka.js';
import { generateEntities } from '../support/generate-entities.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { uniqueName } from '../support/unique.js';
import { runCli } from '../support/cli.js';
import { pipelineEnv } from '../support/worker-process.js';

// kafkajs is CommonJS and this export is not visible to Node's ESM named-import detection.
const { ConfigResourceTypes } = kafkajs;

/**
 * `ragsync status --json` in detail, against the real broker and a real pipeline: lag and end
 * offsets per partition as a separate kafkajs admin client reads them, the production rate from
 * offsets by timestamp, the oldest unprocessed record's age from its own timestamp against the
 * topic's delete.retention.ms, and what the pipeline's replicas recorded in Redis (records per
 * stage, embedding cache, freshness) against the worker's own counters.
 */
const MINUTE = 60_000;

async function statusJson(env: Record<string, string>, ...args: string[]): Promise<PipelineStatus> {
  const { code, out, err } = await runCli(['status', '--json', ...args], env);
  expect(code, err).toBe(0);
  return JSON.parse(out) as PipelineStatus;
}

describe('ragsync status --json, partition by partition', () => {
  const prefix = `${uniqueName('status-detail')}.`;
  const env = { RAGSYNC_TOPIC_PREFIX: prefix, RAGSYNC_REDIS_PREFIX: prefix, RAGSYNC_PARTITIONS: '3', RAGSYNC_RETRY_DELAYS: '5s,20s' };
  const kafka = testKafka();
  const config = loadConfig({ env: { ...process.env, ...env } });
  let admin: Admin;
  let producer: Producer;
  /** Per topic and partition, the timestamp of each offset the test wrote. */
  const written = new Map<string, number[]>();
  const categoryTime = Date.now() - 10 * MINUTE;
  let productTimes: number[] = [];

  /** Sends with explicit partitions and timestamps, and notes the timestamp of each offset. */
  async function send(logical: string, records: Array<{ key: string; partition: number; timestamp: number }>): Promise<void> {
    const topic = `${prefix}${logical}`;
    const meta = await producer.send({ topic, acks: -1, messages: records.map((r) => ({ key: r.key, value: Buffer.from(r.key), partition: r.partition, timestamp: String(r.timestamp) })) });
    for (const m of meta) {
      const ofPartition = records.filter((r) => r.partition === m.partition);
      const times = written.get(`${topic}:${m.partition}`) ?? [];
      ofPartition.forEach((r, i) => (times[Number(m.baseOffset) + i] = r.timestamp));
      written.set(`${topic}:${m.partition}`, times);
    }
  }

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await applyTopics(admin, config);
    // Tombstones of changes.category stay 15 minutes: a group 10 minutes behind on it risks missing deletes.
    const spec = topicCatalogue(config).find((s) => s.name === `${prefix}changes.category`)!;
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: spec.name, configEntries: Object.entries({ ...spec.configs, 'delete.retention.ms': String(15 * MINUTE) }).map(([name, value]) => ({ name, value })) }],
    });
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    const now = Date.now();
    productTimes = Array.from({ length: 20 }, (_, i) => now - 20_000 + i * 500);
    await send('changes.product', productTimes.map((timestamp, i) => ({ key: `product-${i}`, partition: i % 3, timestamp })));
    // Written ten minutes ago as far as their timestamps go: not produced "in the last minute".
    await send('changes.category', Array.from({ length: 6 }, (_, i) => ({ key: `category-${i}`, partition: i % 3, timestamp: categoryTime })));
    // map committed all of partition 0 of changes.product and half of partition 1; nothing of categories.
    await admin.setOffsets({ groupId: `${prefix}map`, topic: `${prefix}changes.product`, partitions: [{ partition: 0, offset: '7' }, { partition: 1, offset: '3' }] });
  }, 60_000);

  afterAll(async () => {
    await producer?.disconnect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    await admin.deleteGroups([`${prefix}map`]).catch(() => undefined);
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  it('gives lag, committed and end offsets per partition as the admin API has them', async () => {
    const status = await statusJson(env, '--no-store');
    expect(status.stages.length).toBeGreaterThan(0);
    for (const stage of status.stages) {
      expect(stage.partitions, stage.stage).toBeDefined();
      const topics = [...new Set(stage.partitions!.map((p) => p.topic))];
      expect(topics.length, stage.stage).toBeGreaterThan(0);
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(`${prefix}${topic}`);
        const [committed] = await admin.fetchOffsets({ groupId: stage.group, topics: [`${prefix}${topic}`] });
        for (const end of ends) {
          const row = stage.partitions!.find((p) => p.topic === topic && p.partition === end.partition);
          const at = Number(committed?.partitions.find((c) => c.partition === end.partition)?.offset ?? -1);
          const what = `${stage.stage} ${topic}[${end.partition}]`;
          expect(row, what).toBeDefined();
          expect(row!.high, what).toBe(Number(end.high));
          expect(row!.committed, what).toBe(at >= 0 ? at : null);
          expect(row!.lag, what).toBe(Number(end.high) - (at >= 0 ? at : Number(end.low)));
        }
      }
      expect(stage.lag, stage.stage).toBe(stage.partitions!.reduce((sum, p) => sum + p.lag, 0));
    }
    const map = status.stages.find((s) => s.stage === 'map')!;
    // Partition 0 (7 records) is done, partition 1 has 4 of 7 left, partition 2 all 6; and the 6 categories.
    expect(map.lag).toBe(0 + 4 + 6 + 6);
  });

  it('counts what was produced in the last minute by record time, and ages the oldest unprocessed record by its own timestamp', async () => {
    const status = await statusJson(env, '--no-store');
    const map = status.stages.find((s) => s.stage === 'map')!;
    // The 20 products are from the last 20 s; the categories carry a time 10 minutes back.
    expect(map.inPerSecond! * 60).toBeCloseTo(20, 6);
    for (const p of map.partitions!.filter((x) => x.lag > 0)) {
      const times = written.get(`${prefix}${p.topic}:${p.partition}`)!;
      expect(p.oldestUnprocessedAt, `${p.topic}[${p.partition}]`).toBe(new Date(times[p.committed ?? p.low]!).toISOString());
    }
    const age = Date.now() - categoryTime;
    expect(map.oldestUnprocessedMs).toBeGreaterThan(10 * MINUTE - 1);
    expect(map.oldestUnprocessedMs).toBeLessThanOrEqual(age);
    expect(map.deleteRetentionMs).toBe(15 * MINUTE);
    expect(status.verdict!.state).toBe('behind');
    expect(status.verdict!.reasons.join('\n')).toMatch(/map: oldest unprocessed record is 10m \d+s old, delete\.retention\.ms is 15m: it risks missing deletes/);
    expect(status.verdict!.reasons.join('\n')).toContain('map lag 16');
    const product = status.lastEvents!.find((e) => e.entityType === 'product')!;
    expect(product.at).toBe(new Date(Math.max(...productTimes)).toISOString());
    expect(status.lastEvents!.find((e) => e.entityType === 'category')!.at).toBe(new Date(categoryTime).toISOString());
    expect(status.lastEvents!.find((e) => e.entityType === 'promotion')!.at).toBeNull();
  });

  it('says so in the table a person reads', async () => {
    const { code, out, err } = await runCli(['status', '--no-store'], env);
    expect(code, err).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^verdict: behind: /);
    expect(lines[1]).toMatch(new RegExp(`^ragsync status of \\S+ \\(topic prefix ${prefix.replace(/\./g, '\\.')}\\)$`));
    expect(out).toMatch(/^ {2}map +\S+map +16 +0\.3 +0\.0 +10m \d+s +0$/m);
    expect(out).toMatch(/partitions with lag:/);
    expect(out).toMatch(/changes\.category +0 +none +2 +2 /);
  });
});

describe('ragsync status --json after a pipeline ran', () => {
  let harness: PipelineHarness;
  let env: Record<string, string>;

  beforeAll(async () => {
    harness = await PipelineHarness.create('lancedb');
    env = pipelineEnv(harness.config);
    await harness.start();
    await harness.publishLines(generateEntities(24, { tenant: 'shop', seed: 7 }).map((l) => JSON.stringify(l)));
    await harness.settle();
    // Stopping flushes what the stages did to Redis, as the end of every second does.
    await harness.stop();
  }, 240_000);

  afterAll(async () => {
    await harness?.close();
  });

  it('reports the records each stage handled, the cache and freshness as the worker counted them', async () => {
    const status = await statusJson(env);
    const counted = new Map<string, number>();
    for (const v of (await harness.metrics!.records.get()).values) counted.set(String(v.labels.stage), (counted.get(String(v.labels.stage)) ?? 0) + v.value);
    for (const stage of ['map', 'chunk', 'embed', 'store']) {
      const row = status.stages.find((s) => s.stage === stage)!;
      expect(counted.get(stage), stage).toBeGreaterThan(0);
      expect(row.donePerSecond! * 60, stage).toBeCloseTo(counted.get(stage)!, 6);
      expect(row.lag, stage).toBe(0);
    }
    // What was published this minute: 24 change records into map.
    expect(status.stages.find((s) => s.stage === 'map')!.inPerSecond! * 60).toBeCloseTo(24, 6);
    const embeddings = (await harness.metrics!.embeddings.get()).values;
    const bySource = (source: string) => embeddings.filter((v) => v.labels.source === source).reduce((sum, v) => sum + v.value, 0);
    expect(status.embeddingCache).toEqual({ hits: bySource('cache'), misses: bySource('model'), hitRatio: bySource('cache') / (bySource('cache') + bySource('model')) });
    expect(status.embeddingCache!.misses).toBeGreaterThan(0);
    const indexed = status.freshness!.filter((f) => f.where === 'index');
    expect(indexed.map((f) => f.class).sort()).toEqual(['category', 'content', 'product']);
    const samples = indexed.reduce((sum, f) => sum + f.samples, 0);
    expect(samples).toBeGreaterThan(0);
    expect(samples).toBeLessThanOrEqual(24);
    for (const f of indexed) {
      expect(f.p50Ms).toBeLessThanOrEqual(f.p95Ms);
      expect(f.p95Ms).toBeLessThanOrEqual(f.maxMs);
      expect(f.maxMs).toBeLessThan(240_000);
    }
    expect(status.verdict).toEqual({ state: 'in sync', reasons: [], notes: [] });
  });

  it('counts documents and points per tenant and type as the store holds them', async () => {
    const status = await statusJson(env);
    const store = await harness.openStore();
    expect(status.points).toBe(await store.countPoints());
    expect(status.documents).toBe((await store.listDocKeys()).length);
    expect(status.documents).toBe(24);
    expect(status.documentsByType!.reduce((sum, d) => sum + d.documents, 0)).toBe(24);
    expect(status.pointsByType!.reduce((sum, d) => sum + d.points, 0)).toBe(status.points);
    for (const row of status.pointsByType!) expect(row.points, `${row.tenant}/${row.docType}`).toBe(await store.countPoints({ tenant: row.tenant, docType: row.docType }));
    expect(status.documentsByType!.find((d) => d.entityType === 'product')!.tenant).toBe('shop');
  });
});
