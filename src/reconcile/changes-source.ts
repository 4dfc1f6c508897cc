import type { Config } from '../config/index.js';
import { ENTITY_TYPES, type EntityType } from '../core/entities.js';
import { parseKey } from '../core/keys.js';
import { HEADERS } from '../core/records.js';
import { mapEntity } from '../consumers/map/mappers/index.js';
import type { createKafka } from '../kafka/client.js';
import { withAdmin } from '../kafka/admin.js';
import { readWindows } from '../kafka/dlq-reader.js';
import { sha256Hex } from '../text/sha256.js';
import type { SourceEntry } from './types.js';

type Kafka = ReturnType<typeof createKafka>;

export interface ReadChangesOptions {
  /** Only keys of this tenant / entity type. */
  tenant?: string;
  entityType?: EntityType;
  /** Decodes a value of a topic (Kafka topic name) through the registry. */
  decode: (topic: string, bytes: Buffer) => Promise<unknown>;
  onProgress?: (read: number, total: number) => void;
  /** A read that gets no record for this long fails. @defaultValue 60000 */
  stallTimeoutMs?: number;
  /** Clock of the map filters (promotion expiry). @defaultValue Date.now() */
  now?: number;
}

const headerText = (value: Buffer | string | (Buffer | string)[] | undefined) => (value === undefined ? undefined : (Array.isArray(value) ? value[0] : value)?.toString());

/**
 * The source snapshot of the compacted change topics (`changes.<entity>`): each topic read from its
 * start to the end offsets of the moment the read starts, by a throwaway reader that commits
 * nothing, keeping each key's newest record. What the store should hold for it is what the map
 * stage would make of that record: nothing for a tombstone or an entity the filters leave out, else
 * a document of its version whose text has the hash computed here.
 */
export async function readChangeSnapshot(kafka: Kafka, config: Pick<Config, 'topics' | 'filters' | 'runner'>, options: ReadChangesOptions): Promise<Map<string, SourceEntry>> {
  const prefix = config.topics.prefix;
  const types = options.entityType ? [options.entityType] : [...ENTITY_TYPES];
  const windows = await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const result: Array<{ type: EntityType; topic: string; windows: Array<{ partition: number; from: string; to: string }> }> = [];
    for (const type of types) {
      const topic = `${prefix}changes.${type}`;
      if (!existing.has(topic)) throw new Error(`topic ${topic} does not exist (run \`ragsync topics apply\`)`);
      const offsets = await admin.fetchTopicOffsets(topic);
      result.push({ type, topic, windows: offsets.map((o) => ({ partition: o.partition, from: o.low, to: o.high })) });
    }
    return result;
  });
  const total = windows.reduce((sum, t) => sum + t.windows.reduce((s, w) => s + Number(BigInt(w.to) - BigInt(w.from)), 0), 0);
  let read = 0;
  options.onProgress?.(0, total);
  const now = options.now ?? Date.now();
  const entries = new Map<string, SourceEntry>();
  for (const { type, topic, windows: partitions } of windows) {
    await readWindows(
      kafka,
      topic,
      partitions,
      async (_partition, messages) => {
        for (const message of messages) {
          read++;
          if (message.key === null) continue;
          const key = message.key.toString();
          const entity = parseKey(key);
          if (options.tenant !== undefined && entity.tenant !== options.tenant) continue;
          const value = message.value === null ? null : ((await options.decode(topic, message.value)) as Record<string, unknown>);
          const versionText = headerText(message.headers?.[HEADERS.sourceVersion]) ?? (value?.source_version as bigint | number | string | undefined)?.toString();
          const occurredText = headerText(message.headers?.[HEADERS.occurredAt]) ?? (value?.occurred_at as number | undefined)?.toString();
          const version = versionText === undefined ? 0n : BigInt(versionText);
          const occurredAt = occurredText === undefined ? Number(message.timestamp) : Number(occurredText);
          entries.set(key, sourceEntry(key, entity, type, value, version, occurredAt, { filters: config.filters, now }));
        }
        options.onProgress?.(read, total);
      },
      { groupPrefix: config.runner.groupPrefix ?? prefix, ...(options.stallTimeoutMs ? { stallTimeoutMs: options.stallTimeoutMs } : {}) },
    );
  }
  options.onProgress?.(total, total);
  return entries;
}

/** What the store should hold for one change: the map stage's view of it. */
export function sourceEntry(
  key: string,
  entity: { tenant: string; storeId: number },
  type: EntityType,
  value: Record<string, unknown> | null,
  version: bigint | null,
  occurredAt: number,
  context: { filters: Config['filters']; now: number },
): SourceEntry {
  const change = { type, key, value, sourceVersion: version ?? 0n, occurredAt };
  const base = { key, tenant: entity.tenant, entityType: type, storeId: entity.storeId, version, change };
  if (value === null) return { ...base, present: false, textHash: null };
  let outcome: ReturnType<typeof mapEntity>;
  try {
    outcome = mapEntity(type, value, { filters: context.filters, now: context.now });
  } catch {
    // A record the map stage refuses goes to its DLQ, never to the store.
    return { ...base, present: false, textHash: null };
  }
  if (outcome.kind === 'filtered') return { ...base, present: false, textHash: null };
  return { ...base, present: true, textHash: sha256Hex(outcome.document.text) };
}
