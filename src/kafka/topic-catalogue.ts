import type { Config } from '../config/index.js';
import { CHANGE_TYPES } from '../core/entities.js';
import { DLQ_GROUPS, TERMINAL_GROUPS, enabledDlqGroups, enabledTerminalGroups } from '../core/stages.js';
import { MAP_STATE_TOPIC } from '../consumers/map/version-state.js';

/**
 * Every topic ragsync owns (docs/design.md §1), derived from the config. Pure: `topics apply` creates and
 * aligns them, workers verify theirs at start.
 *
 * - `changes.<type>` for the entities and the aspects, `documents`, `chunks`, `vectors`: compacted
 *   (the latest record per key is the state; their partition counts never change).
 * - `map.state`: compacted, the map stage's per-key version state (docs/design.md §2). Same partition
 *   count and partitioner as the change topics, so a key's state sits on the partition with the
 *   number of its changes.
 * - `orders`: delete policy with bounded retention (orders carry personal data).
 * - `dlq.marks`: compacted, which dead-lettered records were replayed or purged (`dlq list` counts
 *   the others).
 * - `<group>.dlq` for every consumer group and `<group>.retry.<delay>` for the terminal groups:
 *   delete policy.
 */
export interface TopicSpec {
  /** Name without the prefix, e.g. `changes.product` or `store.retry.5m`. */
  logical: string;
  /** Full Kafka topic name. */
  name: string;
  partitions: number;
  replicationFactor: number;
  compacted: boolean;
  /** Topic configs ragsync sets explicitly; `topics apply` aligns exactly these keys. */
  configs: Record<string, string>;
}

/** Delays of the terminal groups' retry topics: 5, 15 and 60 minutes (Magento plan §7.2). */
export const DEFAULT_RETRY_DELAYS_MS: readonly number[] = [5 * 60_000, 15 * 60_000, 60 * 60_000];
/** Consumer groups with a DLQ: every stage's (src/core/stages.ts), push stages included. */
export const DEFAULT_GROUPS: readonly string[] = DLQ_GROUPS;
/** Groups that write to an external target and so own delayed retry topics: the terminal stages'. */
export const DEFAULT_TERMINAL_GROUPS: readonly string[] = TERMINAL_GROUPS;

export interface CatalogueOptions {
  /** @defaultValue {@link DEFAULT_RETRY_DELAYS_MS} */
  retryDelaysMs?: readonly number[];
  /** @defaultValue the enabled stages' groups: the core stages' and the push stages' whose target a tenant configures */
  groups?: readonly string[];
  /** @defaultValue the enabled terminal stages' groups */
  terminalGroups?: readonly string[];
}

/** `300000` → `5m`, `90000` → `90s`, `1500` → `1500ms`: a readable, stable topic-name suffix. */
export function formatDelay(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new Error(`retry delay must be a positive integer of milliseconds, got ${ms}`);
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export const dlqTopicName = (group: string): string => `${group}.dlq`;
export const retryTopicName = (group: string, delayMs: number): string => `${group}.retry.${formatDelay(delayMs)}`;
/**
 * Where a terminal group's retry consumer puts records once due, for the group itself to apply:
 * read by the group as one of its co-partitioned inputs, so one member writes a document, whether
 * the record comes from its input or from a retry tier.
 */
export const retryDueTopicName = (group: string): string => `${group}.retry.due`;

/** Compacted: per dead-lettered record (`<group>:<partition>:<offset>`), whether it was replayed or purged. */
export const DLQ_MARKS_TOPIC = 'dlq.marks';

export function topicCatalogue(config: Pick<Config, 'topics'> & Partial<Pick<Config, 'tenants'>>, options: CatalogueOptions = {}): TopicSpec[] {
  const t = config.topics;
  const base = { partitions: t.partitions, replicationFactor: t.replicationFactor };
  const maxBytes = { 'max.message.bytes': String(t.maxMessageBytes) };
  const compacted = (logical: string): TopicSpec => ({
    ...base,
    logical,
    name: `${t.prefix}${logical}`,
    compacted: true,
    configs: {
      'cleanup.policy': 'compact',
      'delete.retention.ms': String(t.deleteRetentionMs),
      'min.compaction.lag.ms': String(t.minCompactionLagMs),
      'segment.ms': String(t.segmentMs),
      ...maxBytes,
    },
  });
  const deleting = (logical: string, retentionMs: number): TopicSpec => ({
    ...base,
    logical,
    name: `${t.prefix}${logical}`,
    compacted: false,
    configs: { 'cleanup.policy': 'delete', 'retention.ms': String(retentionMs), ...maxBytes },
  });

  const groups = options.groups ?? enabledDlqGroups(config.tenants);
  const terminal = options.terminalGroups ?? enabledTerminalGroups(config.tenants);
  const delays = options.retryDelaysMs ?? t.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  return [
    ...CHANGE_TYPES.map((type) => compacted(`changes.${type}`)),
    deleting('orders', t.ordersRetentionMs),
    compacted('documents'),
    compacted('chunks'),
    compacted('vectors'),
    compacted(MAP_STATE_TOPIC),
    compacted(DLQ_MARKS_TOPIC),
    ...groups.map((group) => deleting(dlqTopicName(group), t.dlqRetentionMs)),
    ...terminal.flatMap((group) => [...delays.map((delay) => deleting(retryTopicName(group, delay), t.retryRetentionMs)), deleting(retryDueTopicName(group), t.retryRetentionMs)]),
  ];
}
