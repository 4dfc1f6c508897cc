import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs, { type Admin } from 'kafkajs';
import { loadConfig, type Config } from '../../src/config/index.js';
import { SystemError } from '../../src/core/errors.js';
import { createKafka } from '../../src/kafka/client.js';
import { applyTopics, formatPlan, verifyTopics } from '../../src/kafka/topics.js';
import { topicCatalogue } from '../../src/kafka/topic-catalogue.js';
import { uniqueName } from '../support/unique.js';

const { ConfigResourceTypes } = kafkajs;
const base = loadConfig();
let admin: Admin;
const created: string[] = [];

function configWithPrefix(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ overrides: { 'topics.prefix': `${uniqueName('topics')}.`, 'topics.partitions': 2, ...overrides } });
}

async function apply(config: Config, options: Parameters<typeof applyTopics>[2] = {}) {
  const plan = await applyTopics(admin, config, options);
  if (!options.dryRun) created.push(...plan.create.map((s) => s.name));
  return plan;
}

beforeAll(async () => {
  admin = createKafka(base).admin();
  await admin.connect();
});

afterAll(async () => {
  if (created.length > 0) await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await admin.disconnect();
});

describe('topics apply', () => {
  it('creates every topic of the catalogue with its policy, then finds nothing to do', async () => {
    const config = configWithPrefix();
    const first = await apply(config, { retryDelaysMs: [2000, 60_000] });
    const names = first.create.map((s) => s.name);
    const p = config.topics.prefix;
    expect(names).toEqual(
      expect.arrayContaining([`${p}changes.product`, `${p}changes.product_stock`, `${p}orders`, `${p}vectors`, `${p}map.state`, `${p}dlq.marks`, `${p}embed.dlq`, `${p}store.retry.2s`, `${p}store.retry.1m`, `${p}store.retry.due`]),
    );
    // 7 change topics, orders, documents, chunks, vectors, map.state, dlq.marks, 4 DLQs, 2 retry tiers and the due topic.
    expect(names).toHaveLength(20);

    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [`${p}changes.product`, `${p}orders`, `${p}store.dlq`].map((name) => ({ type: ConfigResourceTypes.TOPIC, name })),
    });
    const entries = Object.fromEntries(
      described.resources.map((r) => [r.resourceName.slice(p.length), Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue]))]),
    );
    expect(entries['changes.product']).toMatchObject({ 'cleanup.policy': 'compact', 'max.message.bytes': String(config.topics.maxMessageBytes), 'delete.retention.ms': String(7 * 24 * 3600 * 1000) });
    expect(entries.orders).toMatchObject({ 'cleanup.policy': 'delete', 'retention.ms': String(config.topics.ordersRetentionMs) });
    expect(entries['store.dlq']).toMatchObject({ 'cleanup.policy': 'delete' });

    const second = await apply(config, { retryDelaysMs: [2000, 60_000] });
    expect(second.create).toEqual([]);
    expect(second.alter).toEqual([]);
    expect(second.unchanged).toHaveLength(20);
  });

  it('aligns a config that differs and reports the change', async () => {
    const config = configWithPrefix();
    await apply(config);
    const changed = loadConfig({ overrides: { 'topics.prefix': config.topics.prefix, 'topics.partitions': 2, 'topics.maxMessageBytes': 2_000_000 } });
    const dry = await apply(changed, { dryRun: true });
    expect(dry.alter).toHaveLength(topicCatalogue(changed).length);
    expect(dry.alter[0]!.changes).toEqual([{ name: 'max.message.bytes', from: String(config.topics.maxMessageBytes), to: '2000000' }]);
    expect(formatPlan(dry, true).join('\n')).toContain('alter');

    await apply(changed);
    const again = await apply(changed, { dryRun: true });
    expect(again.alter).toEqual([]);
  });

  describe('when the config asks for another partition count', () => {
    it('refuses to change a compacted topic and grows a delete-policy topic', async () => {
      const config = configWithPrefix();
      await apply(config);
      const more = loadConfig({ overrides: { 'topics.prefix': config.topics.prefix, 'topics.partitions': 3 } });
      const plan = await apply(more);
      const refused = plan.refused.map((r) => r.topic.slice(config.topics.prefix.length));
      expect(refused).toEqual(expect.arrayContaining(['changes.product', 'documents', 'vectors']));
      expect(plan.refused[0]!.reason).toMatch(/compacted topic never changes/);
      expect(plan.addPartitions.map((a) => a.topic.slice(config.topics.prefix.length))).toEqual(expect.arrayContaining(['orders', 'map.dlq']));
      const { topics } = await admin.fetchTopicMetadata({ topics: [`${config.topics.prefix}changes.product`, `${config.topics.prefix}orders`] });
      expect(Object.fromEntries(topics.map((t) => [t.name.slice(config.topics.prefix.length), t.partitions.length]))).toEqual({ 'changes.product': 2, orders: 3 });
    });
  });
});

describe('verifyTopics', () => {
  it('passes when the topics exist as configured', async () => {
    const config = configWithPrefix();
    await apply(config);
    await expect(verifyTopics(admin, config, ['changes.product', 'documents', 'map.dlq'])).resolves.toBeUndefined();
  });

  it('names a missing topic', async () => {
    const config = configWithPrefix();
    const error = await verifyTopics(admin, config, ['changes.category']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toContain(`${config.topics.prefix}changes.category`);
  });

  it('names a topic with the wrong cleanup policy', async () => {
    const config = configWithPrefix();
    const name = `${config.topics.prefix}documents`;
    // kafkajs' own leader wait fails on a topic the broker has not registered yet; wait here instead.
    await admin.createTopics({ waitForLeaders: false, topics: [{ topic: name, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'delete' }] }] });
    created.push(name);
    await expect.poll(async () => (await admin.listTopics()).includes(name), { timeout: 10_000 }).toBe(true);
    const error = await verifyTopics(admin, config, ['documents']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).code).toBe('topic_misconfigured');
    expect((error as Error).message).toContain(name);
  });
});
