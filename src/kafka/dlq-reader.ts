import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { HEADERS } from '../core/records.js';
import { withAdmin } from './admin.js';
import { dlqTopic, headersToStrings } from './dlq.js';
import { DEFAULT_GROUPS } from './topic-catalogue.js';

/**
 * The read side of the dead-letter topics `<prefix><group>.dlq` (docs/design.md §4): what is in
 * them by error code, one record in full, and deleting the records older than a time. The records
 * are the ones the stage runner writes (`dlqMessage` in dlq.ts): the input's key and bytes, its
 * headers, and where and why it failed in the `ragsync-*` headers.
 *
 * Reading uses a consumer group of its own with a random name that never commits, so it moves no
 * stage's offsets; the group is deleted afterwards.
 */

/** A DLQ record by its place: `<group>:<partition>:<offset>`. */
export interface DlqRef {
  group: string;
  partition: number;
  offset: string;
}

/** A wrong group, reference or time on the command line: a usage error, not a failure. */
export class DlqUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DlqUsageError';
  }
}

/** What was asked for is not there (a topic never created, a record purged): a failure, exit code 1. */
export class DlqNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DlqNotFoundError';
  }
}

export function checkGroup(group: string, groups: readonly string[] = DEFAULT_GROUPS): string {
  if (!groups.includes(group)) throw new DlqUsageError(`unknown group "${group}": expected one of ${groups.join(', ')}`);
  return group;
}

export function parseDlqRef(text: string, groups: readonly string[] = DEFAULT_GROUPS): DlqRef {
  const match = /^([^:\s]+):(\d+):(\d+)$/.exec(text.trim());
  if (!match) throw new DlqUsageError(`"${text}" is not a DLQ record reference: expected <group>:<partition>:<offset>, e.g. store:0:42`);
  const partition = Number(match[2]);
  if (!Number.isSafeInteger(partition)) throw new DlqUsageError(`"${text}": partition ${match[2]} is out of range`);
  // Offsets are 64-bit: kept as text, normalised (no leading zeros).
  return { group: checkGroup(match[1]!, groups), partition, offset: BigInt(match[3]!).toString() };
}

export const formatDlqRef = (ref: DlqRef): string => `${ref.group}:${ref.partition}:${ref.offset}`;

/** One DLQ record with its `ragsync-*` headers read out. */
export interface DeadRecord {
  ref: string;
  topic: string;
  partition: number;
  offset: string;
  /** When it was dead-lettered (the record's timestamp), epoch ms. */
  timestamp: number;
  key: string | null;
  /** Every header, decoded as UTF-8 (the original input's and the DLQ's). */
  headers: Record<string, string>;
  value: Buffer | null;
  stage: string | undefined;
  errorClass: string | undefined;
  errorCode: string;
  errorMessage: string | undefined;
  attempt: number | undefined;
  firstFailureAt: string | undefined;
  original: { topic: string; partition: number; offset: string } | undefined;
}

export function toDeadRecord(group: string, topic: string, partition: number, message: KafkaMessage): DeadRecord {
  const headers = headersToStrings(message.headers);
  const origTopic = headers[HEADERS.origTopic];
  const attempt = Number(headers[HEADERS.attempt]);
  return {
    ref: formatDlqRef({ group, partition, offset: message.offset }),
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    key: message.key ? message.key.toString('utf8') : null,
    headers,
    value: message.value,
    stage: headers[HEADERS.stage],
    errorClass: headers[HEADERS.errorClass],
    errorCode: headers[HEADERS.errorCode] ?? 'unknown',
    errorMessage: headers[HEADERS.errorMessage],
    attempt: Number.isFinite(attempt) && attempt > 0 ? attempt : undefined,
    firstFailureAt: headers[HEADERS.firstFailureAt],
    original: origTopic ? { topic: origTopic, partition: Number(headers[HEADERS.origPartition]), offset: headers[HEADERS.origOffset] ?? '?' } : undefined,
  };
}

export interface DlqCodeSummary {
  code: string;
  errorClass: string;
  count: number;
  stages: string[];
  /** The message of the newest record with this code, and where it is. */
  lastMessage: string;
  lastRef: string;
}

export interface DlqGroupSummary {
  group: string;
  topic: string;
  /** False when the DLQ topic does not exist (topics never applied). */
  exists: boolean;
  /** Records the topic holds, read one by one (not high minus low offsets). */
  records: number;
  /** The DLQ depth: records held that were neither replayed nor purged, still to handle. */
  pending: number;
  /** Records held that `dlq replay` sent back already. */
  replayed: number;
  /** Records `dlq purge` deleted (no longer held). */
  purged: number;
  /** Dead-letter times of the oldest and newest records still to handle, ISO 8601. */
  oldest?: string;
  newest?: string;
  /** Records still to handle, by error code. */
  byCode: DlqCodeSummary[];
  /** The newest few records still to handle: where they are, their keys and codes. */
  samples: Array<{ ref: string; key: string | null; code: string; at: string }>;
}

/**
 * Adds up DLQ records one at a time, holding only counts and a few samples in memory. Records
 * already replayed are counted apart; codes, times and samples are those of the records to handle.
 */
export class DlqSummaryBuilder {
  private records = 0;
  private replayed = 0;
  private oldest = Infinity;
  private newest = -Infinity;
  private readonly codes = new Map<string, DlqCodeSummary & { lastAt: number; stageSet: Set<string> }>();
  private readonly samples: DeadRecord[] = [];

  constructor(
    private readonly group: string,
    private readonly topic: string,
    private readonly sampleSize = 5,
  ) {}

  add(record: DeadRecord, state: 'pending' | 'replayed' = 'pending'): void {
    this.records += 1;
    if (state === 'replayed') {
      this.replayed += 1;
      return;
    }
    this.oldest = Math.min(this.oldest, record.timestamp);
    this.newest = Math.max(this.newest, record.timestamp);
    const errorClass = record.errorClass ?? 'unknown';
    const id = `${record.errorCode}\u0000${errorClass}`;
    let code = this.codes.get(id);
    if (!code) {
      code = { code: record.errorCode, errorClass, count: 0, stages: [], stageSet: new Set(), lastMessage: '', lastRef: '', lastAt: -Infinity };
      this.codes.set(id, code);
    }
    code.count += 1;
    if (record.stage) code.stageSet.add(record.stage);
    if (record.timestamp >= code.lastAt) Object.assign(code, { lastAt: record.timestamp, lastMessage: record.errorMessage ?? '', lastRef: record.ref });
    // The newest `sampleSize` records, without their values.
    this.samples.push({ ...record, value: null });
    this.samples.sort((a, b) => b.timestamp - a.timestamp);
    if (this.samples.length > this.sampleSize) this.samples.pop();
  }

  /** @param purged records of this group that `dlq purge` deleted (known from their marks) */
  result(exists = true, purged = 0): DlqGroupSummary {
    const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : undefined);
    const pending = this.records - this.replayed;
    return {
      group: this.group,
      topic: this.topic,
      exists,
      records: this.records,
      pending,
      replayed: this.replayed,
      purged,
      ...(pending > 0 ? { oldest: iso(this.oldest), newest: iso(this.newest) } : {}),
      byCode: [...this.codes.values()]
        .map(({ code, errorClass, count, stageSet, lastMessage, lastRef }) => ({ code, errorClass, count, stages: [...stageSet].sort(), lastMessage, lastRef }))
        .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
      samples: this.samples.map((r) => ({ ref: r.ref, key: r.key, code: r.errorCode, at: new Date(r.timestamp).toISOString() })),
    };
  }
}

export interface PartitionRange {
  partition: number;
  /** First offset still held. */
  low: string;
  /** Offset the next record will get. */
  high: string;
}

/** Offsets [from, to) of one partition, to be read. */
export interface PartitionWindow {
  partition: number;
  from: string;
  to: string;
}

export interface ReadWindowsOptions {
  /** Prefix of the throwaway consumer group. */
  groupPrefix: string;
  /** A read that gets no record for this long fails instead of waiting forever. @defaultValue 60000 */
  stallTimeoutMs?: number;
}

/**
 * Reads the records at offsets [from, to) of each window of `topic`, in offset order per partition,
 * and hands them to `onMessages`, which is awaited before the next batch (a handler may produce).
 * It returns once every window is read to its end.
 *
 * kafkajs has no manual partition assignment: a throwaway consumer group with a random name seeks
 * each partition to its window, never commits, and is deleted afterwards (best effort: an empty
 * group without offsets goes away by itself). The end of a window must be an offset the topic
 * holds or its end offset: the last record of a partition is never compacted away.
 */
export async function readWindows(
  kafka: Kafka,
  topic: string,
  windows: readonly PartitionWindow[],
  onMessages: (partition: number, messages: KafkaMessage[]) => Promise<void> | void,
  options: ReadWindowsOptions,
): Promise<void> {
  // Per partition, the next offset wanted and the end.
  const pending = new Map(windows.filter((w) => BigInt(w.to) > BigInt(w.from)).map((w) => [w.partition, { next: BigInt(w.from), from: w.from, to: BigInt(w.to) }]));
  if (pending.size === 0) return;
  const groupId = `${options.groupPrefix}dlq-reader-${randomBytes(4).toString('hex')}`;
  // A short fetch wait: a command line waits for the partitions that are already at their end.
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500, retry: { retries: 3 } });
  const stallMs = options.stallTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  let failed = false;
  await consumer.connect();
  try {
    // From the end: nothing is fetched before the seeks below place each partition.
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    await new Promise<void>((resolve, reject) => {
      const watch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`reading ${topic}: no record within ${stallMs / 1000} s`)), stallMs);
      };
      watch();
      consumer.on(consumer.events.CRASH, (event) => reject(event.payload.error));
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            const window = pending.get(batch.partition);
            if (failed) return;
            if (!window) {
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              return;
            }
            watch();
            // A batch fetched before a seek took effect may repeat or precede the window.
            const inside = batch.messages.filter((m) => {
              const offset = BigInt(m.offset);
              return offset >= window.next && offset < window.to;
            });
            if (inside.length > 0) {
              try {
                await onMessages(batch.partition, inside);
              } catch (error) {
                // Fails the read at once: kafkajs would hand the same batch to the handler again.
                failed = true;
                pending.clear();
                reject(error);
                return;
              }
              window.next = BigInt(inside[inside.length - 1]!.offset) + 1n;
            }
            watch();
            if (window.next >= window.to || BigInt(batch.lastOffset()) + 1n >= window.to) {
              pending.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              if (pending.size === 0) resolve();
            }
            await heartbeat();
          },
        })
        .then(() => {
          for (const [partition, window] of pending) consumer.seek({ topic, partition, offset: window.from });
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
}

export interface PurgePlan {
  group: string;
  topic: string;
  before: string;
  /** Per partition: records at offsets [low, cut) go; `cut` is the first record at or after `before`. */
  partitions: Array<{ partition: number; low: string; cut: string; records: number }>;
  records: number;
}

export interface PurgeResult {
  plan: PurgePlan;
  partitions: Array<{ partition: number; lowBefore: string; lowAfter: string; deleted: number }>;
  deleted: number;
}

export interface DlqReaderOptions {
  topicPrefix: string;
  /** Prefix of the reader's throwaway consumer groups. @defaultValue topicPrefix */
  groupPrefix?: string;
  /** @defaultValue {@link DEFAULT_GROUPS} */
  groups?: readonly string[];
  /** A read that gets no record for this long fails instead of waiting forever. @defaultValue 60000 */
  stallTimeoutMs?: number;
}

export type ProgressListener = (read: number, total: number) => void;

/** Whether a record was replayed already (`dlq-marks.ts` knows); the summary counts those apart. */
export type RecordState = (record: DeadRecord) => 'pending' | 'replayed';

export class DlqReader {
  readonly groups: readonly string[];

  constructor(
    private readonly kafka: Kafka,
    private readonly options: DlqReaderOptions,
  ) {
    this.groups = options.groups ?? DEFAULT_GROUPS;
  }

  topic(group: string): string {
    return dlqTopic(this.options.topicPrefix, checkGroup(group, this.groups));
  }

  get readOptions(): ReadWindowsOptions {
    return { groupPrefix: this.options.groupPrefix ?? this.options.topicPrefix, ...(this.options.stallTimeoutMs ? { stallTimeoutMs: this.options.stallTimeoutMs } : {}) };
  }

  /** Offsets per partition, or undefined when the topic does not exist. */
  async ranges(group: string): Promise<PartitionRange[] | undefined> {
    const topic = this.topic(group);
    return withAdmin(this.kafka, async (admin) => {
      if (!(await admin.listTopics()).includes(topic)) return undefined;
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.map(({ partition, low, high }) => ({ partition, low, high })).sort((a, b) => a.partition - b.partition);
    });
  }

  /**
   * Reads the whole DLQ of `group` as it is now and adds it up.
   * @param options.stateOf which records were replayed already; without it, every record is to handle
   * @param options.purged records of the group deleted by `dlq purge`, for the summary
   */
  async summarize(group: string, options: { ranges?: PartitionRange[]; onProgress?: ProgressListener; sampleSize?: number; stateOf?: RecordState; purged?: number } = {}): Promise<DlqGroupSummary> {
    const topic = this.topic(group);
    const builder = new DlqSummaryBuilder(group, topic, options.sampleSize);
    const ranges = options.ranges ?? (await this.ranges(group));
    if (!ranges) return builder.result(false, options.purged);
    await this.scan(group, ranges, (record) => builder.add(record, options.stateOf?.(record) ?? 'pending'), options.onProgress);
    return builder.result(true, options.purged);
  }

  /** One record; throws a DlqNotFoundError naming what the partition holds when it is not there. */
  async read(ref: DlqRef): Promise<DeadRecord> {
    const topic = this.topic(ref.group);
    const ranges = await this.ranges(ref.group);
    if (!ranges) throw new DlqNotFoundError(`topic ${topic} does not exist (run \`ragsync topics apply\`)`);
    const range = ranges.find((r) => r.partition === ref.partition);
    if (!range) throw new DlqNotFoundError(`${topic} has no partition ${ref.partition} (it has ${ranges.length})`);
    const offset = BigInt(ref.offset);
    if (offset < BigInt(range.low) || offset >= BigInt(range.high)) {
      const held = range.low === range.high ? 'none' : `offsets ${range.low} to ${BigInt(range.high) - 1n}`;
      const why = offset < BigInt(range.low) ? 'purged or past retention' : 'not written yet';
      throw new DlqNotFoundError(`no record at ${formatDlqRef(ref)} (${why}); partition ${ref.partition} of ${topic} holds ${held}`);
    }
    let found: DeadRecord | undefined;
    await readWindows(
      this.kafka,
      topic,
      [{ partition: ref.partition, from: ref.offset, to: (offset + 1n).toString() }],
      (partition, messages) => {
        // A record of a delete-policy topic is never missing inside [low, high) unless it was deleted meanwhile.
        const message = messages.find((m) => m.offset === ref.offset);
        if (message) found = toDeadRecord(ref.group, topic, partition, message);
      },
      this.readOptions,
    );
    if (!found) throw new DlqNotFoundError(`no record at ${formatDlqRef(ref)} (deleted while reading)`);
    return found;
  }

  /** Which records `purge` would delete: per partition, those before the first one dead-lettered at or after `beforeMs`. */
  async planPurge(group: string, beforeMs: number): Promise<PurgePlan> {
    const topic = this.topic(group);
    const ranges = await this.ranges(group);
    if (!ranges) throw new DlqNotFoundError(`topic ${topic} does not exist (run \`ragsync topics apply\`)`);
    // Offsets by timestamp answer "the first offset whose timestamp is at or after"; none → the end.
    const cuts = await withAdmin(this.kafka, (admin) => admin.fetchTopicOffsetsByTimestamp(topic, beforeMs));
    const partitions = ranges.map(({ partition, low }) => {
      const cutText = cuts.find((c) => c.partition === partition)?.offset ?? low;
      const cut = BigInt(cutText) > BigInt(low) ? cutText : low;
      // DLQ topics use the delete policy and no transactions: every offset in [low, cut) is one record.
      return { partition, low, cut, records: Number(BigInt(cut) - BigInt(low)) };
    });
    return { group, topic, before: new Date(beforeMs).toISOString(), partitions, records: partitions.reduce((sum, p) => sum + p.records, 0) };
  }

  /** Deletes what `plan` names (Kafka's DeleteRecords) and reads back what each partition now starts at. */
  async purge(plan: PurgePlan): Promise<PurgeResult> {
    const targets = plan.partitions.filter((p) => p.records > 0);
    return withAdmin(this.kafka, async (admin) => {
      // Also loads the topic's metadata, which deleteTopicRecords needs to find the leaders.
      const before = await admin.fetchTopicOffsets(plan.topic);
      if (targets.length > 0) await admin.deleteTopicRecords({ topic: plan.topic, partitions: targets.map((p) => ({ partition: p.partition, offset: p.cut })) });
      const after = await admin.fetchTopicOffsets(plan.topic);
      const partitions = plan.partitions.map(({ partition, low }) => {
        const lowBefore = before.find((b) => b.partition === partition)?.low ?? low;
        const lowAfter = after.find((a) => a.partition === partition)?.low ?? lowBefore;
        return { partition, lowBefore, lowAfter, deleted: Math.max(0, Number(BigInt(lowAfter) - BigInt(lowBefore))) };
      });
      return { plan, partitions, deleted: partitions.reduce((sum, p) => sum + p.deleted, 0) };
    });
  }

  /**
   * Reads every partition of the group's DLQ from `low` to `high` (the offsets given), batch by
   * batch; `onRecords` is awaited before the next batch.
   */
  async scanBatches(group: string, ranges: PartitionRange[], onRecords: (records: DeadRecord[]) => Promise<void> | void, onProgress?: ProgressListener): Promise<void> {
    const topic = this.topic(group);
    const total = ranges.reduce((sum, r) => sum + Number(BigInt(r.high) - BigInt(r.low)), 0);
    if (total === 0) return;
    let read = 0;
    onProgress?.(0, total);
    await readWindows(
      this.kafka,
      topic,
      ranges.map((r) => ({ partition: r.partition, from: r.low, to: r.high })),
      async (partition, messages) => {
        await onRecords(messages.map((m) => toDeadRecord(group, topic, partition, m)));
        read += messages.length;
        onProgress?.(read, total);
      },
      this.readOptions,
    );
  }

  private scan(group: string, ranges: PartitionRange[], onRecord: (record: DeadRecord) => void, onProgress?: ProgressListener): Promise<void> {
    return this.scanBatches(group, ranges, (records) => records.forEach(onRecord), onProgress);
  }
}
