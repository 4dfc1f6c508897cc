import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS } from '../../src/core/records.js';
import { createTestTopics, testKafka } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';
import { runCli, type CliResult } from '../support/cli.js';

/**
 * `ragsync retry status` against the real broker: retry tiers with records, a retry consumer group
 * that committed part of them, and a prefix where no retry topic exists.
 */
const prefix = `${uniqueName('retry')}.`;

function ragsync(topicPrefix: string, ...args: string[]): Promise<CliResult> {
  return runCli(args, { RAGSYNC_TOPIC_PREFIX: topicPrefix, RAGSYNC_RETRY_DELAYS: '30s,2m,10m' });
}

describe('ragsync retry status', () => {
  const kafka = testKafka();
  const tier0 = `${prefix}store.retry.30s`;
  const tier1 = `${prefix}store.retry.2m`;
  const tier2 = `${prefix}store.retry.10m`;
  const group = `${prefix}store.retry`;
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  let admin: Admin;
  let producer: Producer;

  const waiting = (key: string, partition: number, dueAt: number, firstFailureAt: number) => ({
    key,
    partition,
    value: Buffer.from(key),
    headers: { [HEADERS.dueAt]: iso(dueAt), [HEADERS.firstFailureAt]: iso(firstFailureAt), [HEADERS.retryTier]: '0', [HEADERS.attempt]: '1' },
  });

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, [tier0, tier1], 2);
    await createTestTopics(admin, [tier2], 1);
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    await producer.send({
      topic: tier0,
      acks: -1,
      messages: [
        // Partition 0: the first one was handed over already (committed offset 1). Due times lie
        // minutes ahead, so a slow run still prints "in …s".
        waiting('a', 0, now - 60_000, now - 120_000),
        waiting('b', 0, now + 620_000, now - 10_000),
        waiting('c', 0, now + 625_000, now - 5_000),
        // Partition 1: never committed, so the whole partition waits.
        waiting('d', 1, now + 690_000, now - 30_000),
      ],
    });
    await producer.send({ topic: tier1, acks: -1, messages: [waiting('e', 1, now + 700_000, now - 600_000)] });
    await admin.setOffsets({ groupId: group, topic: tier0, partitions: [{ partition: 0, offset: '1' }] });
    // Every record of tier 1 was handed over.
    await admin.setOffsets({ groupId: group, topic: tier1, partitions: [{ partition: 1, offset: '1' }] });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin.deleteGroups([group]).catch(() => undefined);
    await admin.deleteTopics({ topics: [tier0, tier1, tier2] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('gives depth, next due time and oldest first failure per tier from committed offsets and head records', async () => {
    const { code, out, err } = await ragsync(prefix, 'retry', 'status', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const status = JSON.parse(out);
    expect(status).toHaveLength(1);
    expect(status[0]).toMatchObject({ group: 'store', consumerGroup: group });
    const [t0, t1, t2] = status[0].tiers;
    expect(t0).toMatchObject({ tier: 0, delayMs: 30_000, topic: tier0, exists: true, depth: 3, nextDueAt: iso(now + 620_000), oldestFirstFailureAt: iso(now - 30_000) });
    expect(t0.partitions).toEqual([
      { partition: 0, committed: '1', end: '3', depth: 2, headDueAt: iso(now + 620_000) },
      { partition: 1, committed: null, end: '1', depth: 1, headDueAt: iso(now + 690_000) },
    ]);
    expect(t1).toMatchObject({ tier: 1, topic: tier1, depth: 0 });
    expect(t1.nextDueAt).toBeUndefined();
    expect(t2).toMatchObject({ tier: 2, topic: tier2, exists: true, depth: 0 });
  });

  it('prints the same for people', async () => {
    const { code, out } = await ragsync(prefix, 'retry', 'status');
    expect(code).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe(`retry tiers: 30s, 2m, 10m (topic prefix ${prefix})`);
    expect(lines[1]).toBe(`store (retry consumer group ${group}): 3 records waiting`);
    expect(lines[2]).toMatch(new RegExp(`^  tier 0  30s +${tier0.replace(/\./g, '\\.')} +depth 3, next due ${iso(now + 620_000).replace(/\./g, '\\.')} \\(in \\d+m \\d+s\\), failing since ${iso(now - 30_000).replace(/\./g, '\\.')}$`));
    expect(lines[3]).toMatch(/^ {2}tier 1 {2}2m +\S+ +empty$/);
    expect(lines[4]).toMatch(/^ {2}tier 2 {2}10m +\S+ +empty$/);
  });

  it('says in one line when no retry topic exists, naming the command to run', async () => {
    const bare = `${uniqueName('retry-bare')}.`;
    const { code, out } = await ragsync(bare, 'retry', 'status');
    expect(code).toBe(0);
    expect(out.trim().split('\n')[1]).toBe(`no retry topics: ${bare}store.retry.30s, ${bare}store.retry.2m, ${bare}store.retry.10m do not exist (run \`ragsync topics apply\`)`);
  });
});
