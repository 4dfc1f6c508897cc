import type { Kafka } from 'kafkajs';
import { HEADERS } from '../core/records.js';
import { withAdmin } from './admin.js';
import { headersToStrings } from './dlq.js';
import { readWindows } from './dlq-reader.js';
import { retryGroupName } from './retry-topics.js';
import { DEFAULT_TERMINAL_GROUPS, formatDelay, retryTopicName } from './topic-catalogue.js';

/**
 * What waits in the delayed retry topics `<prefix><group>.retry.<delay>` of the terminal groups
 * (docs/design.md §4): per tier, the records its retry consumer (group `<groupPrefix><group>.retry`)
 * has not handled yet, when the next one is due, and since when the oldest waiting one fails.
 *
 * Depth is end offset minus committed offset per partition (the whole partition when the group
 * has not committed there; retry topics use the delete policy, so every offset is one record).
 * The due and first-failure times are those of the head record of each partition, the next one
 * the consumer reads: records of a tier are written in the order they became due.
 */

export interface TierStatus {
  /** 0 = the first delay. */
  tier: number;
  delayMs: number;
  topic: string;
  /** False when the topic does not exist (`topics apply` not run since the delays changed). */
  exists: boolean;
  depth: number;
  partitions: Array<{ partition: number; committed: string | null; end: string; depth: number; headDueAt?: string }>;
  /** The earliest due time of the partitions' head records, ISO 8601. */
  nextDueAt?: string;
  /** The earliest first-failure time of the head records, ISO 8601. */
  oldestFirstFailureAt?: string;
}

export interface GroupRetryStatus {
  group: string;
  /** The retry consumer's group id. */
  consumerGroup: string;
  tiers: TierStatus[];
}

export interface RetryStatusOptions {
  topicPrefix: string;
  /** Prefix of consumer group ids. @defaultValue topicPrefix */
  groupPrefix?: string;
  retryDelaysMs: readonly number[];
  /** @defaultValue {@link DEFAULT_TERMINAL_GROUPS} */
  terminalGroups?: readonly string[];
}

/** The earliest of ISO 8601 times (they sort as text only when they have the same form; compared as times). */
export function earliest(times: ReadonlyArray<string | undefined>): string | undefined {
  let best: { text: string; ms: number } | undefined;
  for (const text of times) {
    const ms = text === undefined ? NaN : Date.parse(text);
    if (Number.isNaN(ms)) continue;
    if (!best || ms < best.ms) best = { text: new Date(ms).toISOString(), ms };
  }
  return best?.text;
}

/** Depth of one partition: end minus committed, or minus the first offset held when nothing was committed or it is older. */
export function partitionDepth(low: string, high: string, committed: string | null): { start: bigint; depth: number } {
  const first = BigInt(low);
  const done = committed === null ? -1n : BigInt(committed);
  const start = done < first ? first : done;
  const depth = BigInt(high) - start;
  return { start, depth: depth > 0n ? Number(depth) : 0 };
}

export async function retryStatus(kafka: Kafka, options: RetryStatusOptions): Promise<GroupRetryStatus[]> {
  const groupPrefix = options.groupPrefix ?? options.topicPrefix;
  const result: GroupRetryStatus[] = [];
  const existing = new Set(await withAdmin(kafka, (admin) => admin.listTopics()));
  for (const group of options.terminalGroups ?? DEFAULT_TERMINAL_GROUPS) {
    const consumerGroup = `${groupPrefix}${retryGroupName(group)}`;
    const tiers = options.retryDelaysMs.map((delayMs, tier) => ({ tier, delayMs, topic: `${options.topicPrefix}${retryTopicName(group, delayMs)}` }));
    const present = tiers.filter((t) => existing.has(t.topic)).map((t) => t.topic);
    const { offsets, committed } = await withAdmin(kafka, async (admin) => ({
      offsets: new Map(await Promise.all(present.map(async (topic) => [topic, await admin.fetchTopicOffsets(topic)] as const))),
      committed: present.length > 0 ? await admin.fetchOffsets({ groupId: consumerGroup, topics: present }) : [],
    }));
    const statuses: TierStatus[] = [];
    for (const { tier, delayMs, topic } of tiers) {
      const ends = offsets.get(topic);
      if (!ends) {
        statuses.push({ tier, delayMs, topic, exists: false, depth: 0, partitions: [] });
        continue;
      }
      const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
      const partitions = ends
        .map(({ partition, low, high }) => {
          const offset = done.find((d) => d.partition === partition)?.offset;
          const committedOffset = offset === undefined || BigInt(offset) < 0n ? null : offset;
          return { partition, low, high, committed: committedOffset, ...partitionDepth(low, high, committedOffset) };
        })
        .sort((a, b) => a.partition - b.partition);
      const heads = new Map<number, { dueAt?: string; firstFailureAt?: string }>();
      await readWindows(
        kafka,
        topic,
        partitions.filter((p) => p.depth > 0).map((p) => ({ partition: p.partition, from: p.start.toString(), to: (p.start + 1n).toString() })),
        (partition, messages) => {
          const headers = headersToStrings(messages[0]?.headers);
          heads.set(partition, { dueAt: headers[HEADERS.dueAt], firstFailureAt: headers[HEADERS.firstFailureAt] });
        },
        { groupPrefix: `${groupPrefix}retry-status-` },
      );
      const nextDueAt = earliest([...heads.values()].map((h) => h.dueAt));
      const oldestFirstFailureAt = earliest([...heads.values()].map((h) => h.firstFailureAt));
      statuses.push({
        tier,
        delayMs,
        topic,
        exists: true,
        depth: partitions.reduce((sum, p) => sum + p.depth, 0),
        partitions: partitions.map((p) => ({ partition: p.partition, committed: p.committed, end: p.high, depth: p.depth, ...(heads.get(p.partition)?.dueAt ? { headDueAt: heads.get(p.partition)!.dueAt } : {}) })),
        ...(nextDueAt ? { nextDueAt } : {}),
        ...(oldestFirstFailureAt ? { oldestFirstFailureAt } : {}),
      });
    }
    result.push({ group, consumerGroup, tiers: statuses });
  }
  return result;
}

/** `2h 5m`, `4m 10s`, `12s`: a wait as a person reads it. */
export function formatWait(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
}

export function formatRetryStatus(status: readonly GroupRetryStatus[], now: number): string[] {
  const all = status.flatMap((g) => g.tiers);
  if (all.length > 0 && all.every((t) => !t.exists)) {
    return [`no retry topics: ${all.map((t) => t.topic).join(', ')} do not exist (run \`ragsync topics apply\`)`];
  }
  const lines: string[] = [];
  const topicWidth = Math.max(...all.map((t) => t.topic.length));
  for (const group of status) {
    const depth = group.tiers.reduce((sum, t) => sum + t.depth, 0);
    lines.push(`${group.group} (retry consumer group ${group.consumerGroup}): ${depth} record${depth === 1 ? '' : 's'} waiting`);
    for (const t of group.tiers) {
      const head = `  tier ${t.tier}  ${formatDelay(t.delayMs).padEnd(6)} ${t.topic.padEnd(topicWidth)}`;
      if (!t.exists) {
        lines.push(`${head}  no such topic (run \`ragsync topics apply\`)`);
        continue;
      }
      if (t.depth === 0) {
        lines.push(`${head}  empty`);
        continue;
      }
      const parts = [`depth ${t.depth}`];
      if (t.nextDueAt) {
        const wait = Date.parse(t.nextDueAt) - now;
        parts.push(`next due ${t.nextDueAt} (${wait > 0 ? `in ${formatWait(wait)}` : `overdue by ${formatWait(wait)}`})`);
      } else parts.push('next due unknown (the head records carry no due time)');
      if (t.oldestFirstFailureAt) parts.push(`failing since ${t.oldestFirstFailureAt}`);
      lines.push(`${head}  ${parts.join(', ')}`);
    }
  }
  return lines;
}
