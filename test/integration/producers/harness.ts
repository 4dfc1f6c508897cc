import type { Redis } from 'ioredis';
import { loadConfig, type Config, type TenantConfig } from '../../../src/config/index.js';
import type { ChangeSink } from '../../../src/core/changes.js';
import type { ChangeType } from '../../../src/core/entities.js';
import { withAdmin } from '../../../src/kafka/admin.js';
import { createKafka } from '../../../src/kafka/client.js';
import { RegistryClient } from '../../../src/kafka/registry.js';
import { RegistrySerde } from '../../../src/kafka/serde.js';
import { applyTopics } from '../../../src/kafka/topics.js';
import { openChangeSink, openRedis } from '../../../src/producers/connect.js';
import { CHANGE_TYPES } from '../../../src/core/entities.js';
import { readAll, testKafka, type ReadRecord } from '../../support/kafka.js';
import { uniqueName } from '../../support/unique.js';

export interface DecodedRecord extends ReadRecord {
  decoded: Record<string, unknown> | null;
}

export interface ProducerHarness {
  config: Config;
  prefix: string;
  sink: ChangeSink;
  redis: Redis;
  /** Every record of `changes.<type>`, values decoded through the registry. */
  read(type: ChangeType): Promise<DecodedRecord[]>;
  /** Records of every change topic. */
  readAllChanges(): Promise<Map<ChangeType, DecodedRecord[]>>;
  cleanup(): Promise<void>;
}

/**
 * Real Kafka, registry and Redis with names of this test file only: a unique topic prefix (topics
 * created with `topics apply`'s code, deleted afterwards), a unique Redis key prefix.
 */
/** Tenants as a config file would give them: what is left out takes its default. */
export async function createProducerHarness(label: string, tenants: Record<string, Omit<TenantConfig, 'targets'> & Partial<Pick<TenantConfig, 'targets'>>>): Promise<ProducerHarness> {
  const prefix = `${uniqueName(label)}.`;
  const config = loadConfig({ overrides: { 'topics.prefix': prefix, 'topics.partitions': 3, 'redis.keyPrefix': `${prefix}:`, 'kafka.ackTimeoutMs': 15_000, tenants } });
  const kafka = createKafka(config);
  await withAdmin(kafka, (admin) => applyTopics(admin, config, { groups: [], terminalGroups: [] }));
  const sink = await openChangeSink(config);
  const redis = openRedis(config);
  const registry = new RegistryClient(config.registry);
  const serde = new RegistrySerde(registry, { prefix });
  const reader = testKafka();

  const read = async (type: ChangeType): Promise<DecodedRecord[]> => {
    const topic = `${prefix}changes.${type}`;
    // Right after topic creation a broker may still answer "not the leader" for a moment.
    let records: Awaited<ReturnType<typeof readAll>> = [];
    for (let attempt = 1; ; attempt += 1) {
      try {
        records = await readAll(reader, topic);
        break;
      } catch (error) {
        if (attempt >= 5) throw error;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
    return Promise.all(records.map(async (r) => ({ ...r, decoded: r.value ? ((await serde.decode(topic, r.value)) as Record<string, unknown>) : null })));
  };

  return {
    config,
    prefix,
    sink,
    redis,
    read,
    async readAllChanges() {
      const out = new Map<ChangeType, DecodedRecord[]>();
      for (const type of CHANGE_TYPES) out.set(type, await read(type));
      return out;
    },
    async cleanup() {
      await sink.close().catch(() => undefined);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await withAdmin(kafka, async (admin) => {
        const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
        if (topics.length > 0) await admin.deleteTopics({ topics });
      });
      for (const type of CHANGE_TYPES) await registry.deleteSubject(RegistrySerde.subject(`${prefix}changes.${type}`)).catch(() => undefined);
    },
  };
}
