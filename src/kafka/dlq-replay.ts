import type { IHeaders, Kafka, KafkaMessage, Message, PartitionMetadata, Producer, RecordMetadata } from 'kafkajs';
import { HEADERS } from '../core/records.js';
import { withAdmin } from './admin.js';
import { createIdempotentProducer, PARTITIONER } from './client.js';
import { headersToStrings } from './dlq.js';
import { DlqMarks, type DlqMark, type MarkIndex } from './dlq-marks.js';
import { DlqNotFoundError, DlqReader, DlqUsageError, readWindows, type DeadRecord, type DlqRef } from './dlq-reader.js';
import { DEFAULT_TERMINAL_GROUPS, retryTopicName } from './topic-catalogue.js';

/**
 * `dlq replay` (docs/design.md §2 order invariant, §4): dead records go back through their stage.
 *
 * - Terminal groups (they write to a target that holds the version guard): the dead record, its key,
 *   value bytes and headers, goes to the group's first retry tier, due now, with the whole retry
 *   ladder ahead of it. The retry consumer hands it to the stage; the target drops it when a newer
 *   version overtook it.
 * - Intermediate groups (map, chunk, embed) write to shared compacted topics, where an old record
 *   must never come back: the key's current input (its latest record in the input partition, read
 *   to the end; a tombstone when that is one) is produced again to the same topic and partition.
 * - A terminal record stored without its value (too large to copy into the DLQ) takes the second
 *   path too, into the first retry tier.
 *
 * Each replayed DLQ record gets a mark (dlq-marks.ts) once Kafka acknowledged what was produced for
 * it; a record with a mark is skipped unless asked `again`.
 */

export interface ReplayFilters {
  /** Error codes: a record with any of them. */
  codes: string[];
  /** Parts of keys: a record whose key contains any of them. */
  keys: string[];
}

/** `--filter code=<code>` and `--filter key=<part of the key>`, each repeatable; both kinds: both must match. */
export function parseReplayFilters(texts: readonly string[]): ReplayFilters {
  const filters: ReplayFilters = { codes: [], keys: [] };
  for (const text of texts) {
    const match = /^(code|key)=(.+)$/s.exec(text);
    if (!match) throw new DlqUsageError(`--filter "${text}": expected code=<error code> or key=<part of the key>`);
    (match[1] === 'code' ? filters.codes : filters.keys).push(match[2]!);
  }
  return filters;
}

export function matchesFilters(record: Pick<DeadRecord, 'errorCode' | 'key'>, filters: ReplayFilters): boolean {
  if (filters.codes.length > 0 && !filters.codes.includes(record.errorCode)) return false;
  if (filters.keys.length > 0 && !filters.keys.some((part) => record.key?.includes(part))) return false;
  return true;
}

/** `retry`: into the group's first retry tier; `input`: the key's current input record. */
export type ReplayPath = 'retry' | 'input';
export type SkipReason = 'filtered' | 'already-replayed' | 'not-replayable';

export type ReplayChoice = { action: 'replay'; path: ReplayPath; note?: string } | { action: 'skip'; reason: SkipReason; why: string };

/** What replay does with one DLQ record, before anything is read from its input. */
export function chooseReplay(record: DeadRecord, context: { terminal: boolean; mark: DlqMark | undefined; filters: ReplayFilters; again: boolean }): ReplayChoice {
  if (!matchesFilters(record, context.filters)) return { action: 'skip', reason: 'filtered', why: 'left out by --filter' };
  const mark = context.mark;
  if (mark && !context.again) {
    const to = mark.to ? ` to ${mark.to.topic} partition ${mark.to.partition} offset ${mark.to.offset}` : '';
    return { action: 'skip', reason: 'already-replayed', why: `replayed ${mark.at}${to} (--again replays it once more)` };
  }
  // Both paths need where the record was first read: the retry consumer decodes it as a record of
  // that topic, and the current input is found there.
  const original = record.original;
  if (!original || !Number.isInteger(original.partition) || !/^\d+$/.test(original.offset)) {
    const what = context.terminal && record.value === null ? 'stored without its value, and ' : '';
    return { action: 'skip', reason: 'not-replayable', why: `${what}no valid ${HEADERS.origTopic}/${HEADERS.origPartition}/${HEADERS.origOffset} headers: its input is unknown` };
  }
  if (context.terminal && record.value !== null) return { action: 'replay', path: 'retry' };
  if (record.key === null) return { action: 'skip', reason: 'not-replayable', why: 'no key: the current input of its key cannot be found' };
  if (!context.terminal) return { action: 'replay', path: 'input' };
  return { action: 'replay', path: 'input', note: `stored without its value (too large to copy into the DLQ, or a delete): replayed from the key's current input in ${original.topic}` };
}

/** A record for the first retry tier: due now, tier 0, one failure so far (the whole ladder ahead), and where it came from. */
export function replayRetryMessage(record: { key: Buffer | string | null; value: Buffer | null; headers: Record<string, string> }, ref: string, now: number): Message {
  return {
    key: record.key,
    value: record.value,
    headers: { ...record.headers, [HEADERS.dueAt]: new Date(now).toISOString(), [HEADERS.retryTier]: '0', [HEADERS.attempt]: '1', [HEADERS.replayOf]: ref },
  };
}

/** Headers of a DLQ record that say why and since when it fails: kept when its current input replaces it. */
const FAILURE_HEADERS = [HEADERS.stage, HEADERS.errorClass, HEADERS.errorCode, HEADERS.errorMessage, HEADERS.firstFailureAt];

export interface ReplayedRecord {
  ref: string;
  group: string;
  key: string | null;
  code: string;
  path: ReplayPath;
  /** Where it went; absent on a dry run. */
  to?: { topic: string; partition: number; offset: string };
  /** For the input path: the input record produced again. */
  source?: { topic: string; partition: number; offset: string; tombstone: boolean };
  note?: string;
}

export interface SkippedRecord {
  ref: string;
  group: string;
  key: string | null;
  code: string;
  reason: SkipReason;
  why: string;
}

export interface GroupReplayReport {
  group: string;
  topic: string;
  exists: boolean;
  replayed: number;
  /** Replayed records by error code. */
  byCode: Record<string, number>;
  skipped: { alreadyReplayed: number; filtered: number; notReplayable: number };
}

export interface ReplayReport {
  dryRun: boolean;
  groups: GroupReplayReport[];
  /** Every record replayed (or, on a dry run, that would be). */
  replayed: ReplayedRecord[];
  /** Records that cannot be replayed, each with the reason. */
  notReplayable: SkippedRecord[];
}

/** Adds up what a replay did, per group. */
export class ReplayTally {
  private readonly groups = new Map<string, GroupReplayReport>();
  private readonly replayed: ReplayedRecord[] = [];
  private readonly notReplayable: SkippedRecord[] = [];

  constructor(private readonly dryRun: boolean) {}

  group(group: string, topic: string, exists = true): GroupReplayReport {
    let report = this.groups.get(group);
    if (!report) {
      report = { group, topic, exists, replayed: 0, byCode: {}, skipped: { alreadyReplayed: 0, filtered: 0, notReplayable: 0 } };
      this.groups.set(group, report);
    }
    return report;
  }

  replay(topic: string, record: ReplayedRecord): void {
    const report = this.group(record.group, topic);
    report.replayed += 1;
    report.byCode[record.code] = (report.byCode[record.code] ?? 0) + 1;
    this.replayed.push(record);
  }

  skip(topic: string, record: Pick<DeadRecord, 'ref' | 'key' | 'errorCode'>, group: string, reason: SkipReason, why: string): void {
    const skipped = this.group(group, topic).skipped;
    if (reason === 'filtered') skipped.filtered += 1;
    else if (reason === 'already-replayed') skipped.alreadyReplayed += 1;
    else {
      skipped.notReplayable += 1;
      this.notReplayable.push({ ref: record.ref, group, key: record.key, code: record.errorCode, reason, why });
    }
  }

  result(): ReplayReport {
    return { dryRun: this.dryRun, groups: [...this.groups.values()], replayed: this.replayed, notReplayable: this.notReplayable };
  }
}

export interface DlqReplayerOptions {
  topicPrefix: string;
  /** Prefix of the throwaway reader groups. @defaultValue topicPrefix */
  groupPrefix?: string;
  /** The terminal groups' retry delays; replays go to the first. */
  retryDelaysMs: readonly number[];
  /** @defaultValue {@link DEFAULT_TERMINAL_GROUPS} */
  terminalGroups?: readonly string[];
  groups?: readonly string[];
  /** max.message.bytes of the topics: a record over it is reported, not sent. @defaultValue 4 MiB */
  maxMessageBytes?: number;
  /** Bytes per produce call. @defaultValue 1 MiB */
  maxBatchBytes?: number;
}

export interface ReplayProgress {
  phase: 'dlq' | 'inputs';
  group: string;
  done: number;
  total: number;
}

export interface ReplayRequest {
  groups: readonly string[];
  /** One record only. */
  ref?: DlqRef;
  filters?: ReplayFilters;
  dryRun?: boolean;
  /** Replay records that were replayed already. */
  again?: boolean;
  onProgress?: (progress: ReplayProgress) => void;
  now?: () => number;
}

/** One record to produce, and the DLQ records it answers for. */
interface Delivery {
  message: Message & { partition: number };
  records: DeadRecord[];
  path: ReplayPath;
  source?: ReplayedRecord['source'];
  note?: string;
}

const messageBytes = (m: Message): number =>
  (m.key?.length ?? 0) + (m.value?.length ?? 0) + Object.entries(m.headers ?? {}).reduce((sum, [k, v]) => sum + k.length + (v === undefined ? 0 : String(v).length), 0) + 64;

export class DlqReplayer {
  readonly reader: DlqReader;
  readonly marks: DlqMarks;
  private readonly terminal: readonly string[];

  constructor(
    private readonly kafka: Kafka,
    private readonly options: DlqReplayerOptions,
  ) {
    this.reader = new DlqReader(kafka, { topicPrefix: options.topicPrefix, ...(options.groupPrefix ? { groupPrefix: options.groupPrefix } : {}), ...(options.groups ? { groups: options.groups } : {}) });
    this.marks = new DlqMarks(kafka, { topicPrefix: options.topicPrefix, groupPrefix: options.groupPrefix ?? options.topicPrefix });
    this.terminal = options.terminalGroups ?? DEFAULT_TERMINAL_GROUPS;
  }

  async replay(request: ReplayRequest): Promise<ReplayReport> {
    const marks = await this.marks.load();
    if (!marks) throw new DlqNotFoundError(this.marks.missing());
    const tally = new ReplayTally(request.dryRun === true);
    const producer = request.dryRun ? undefined : createIdempotentProducer(this.kafka);
    await producer?.connect();
    try {
      for (const group of request.groups) await this.replayGroup(group, request, marks, tally, producer);
    } finally {
      await producer?.disconnect();
    }
    return tally.result();
  }

  private async replayGroup(group: string, request: ReplayRequest, marks: MarkIndex, tally: ReplayTally, producer: Producer | undefined): Promise<void> {
    const topic = this.reader.topic(group);
    const ranges = await this.reader.ranges(group);
    if (!ranges) {
      if (request.ref) throw new DlqNotFoundError(`topic ${topic} does not exist (run \`ragsync topics apply\`)`);
      tally.group(group, topic, false);
      return;
    }
    tally.group(group, topic);
    const terminal = this.terminal.includes(group);
    const retryTopic = terminal ? `${this.options.topicPrefix}${retryTopicName(group, this.options.retryDelaysMs[0]!)}` : undefined;
    const retryPartitions = retryTopic ? await this.partitionCount(retryTopic) : undefined;
    if (retryTopic && retryPartitions === undefined) throw new DlqNotFoundError(`topic ${retryTopic} does not exist (run \`ragsync topics apply\`): replays of ${group} go through its first retry tier`);
    const now = request.now ?? Date.now;
    const throughInput: Array<{ record: DeadRecord; note?: string }> = [];

    const onRecords = async (records: DeadRecord[]) => {
      const direct: Delivery[] = [];
      for (const record of records) {
        const choice = chooseReplay(record, { terminal, mark: marks.replayed(record), filters: request.filters ?? { codes: [], keys: [] }, again: request.again === true });
        if (choice.action === 'skip') tally.skip(topic, record, group, choice.reason, choice.why);
        // Only what finding the input needs is kept, not the value.
        else if (choice.path === 'input') throughInput.push({ record: { ...record, value: null }, ...(choice.note ? { note: choice.note } : {}) });
        else {
          const message = replayRetryMessage(record, record.ref, now());
          direct.push({ message: { ...message, partition: partitionOf(message.key, retryPartitions!) }, records: [record], path: 'retry' });
        }
      }
      await this.deliver(retryTopic!, direct, group, topic, tally, producer, now);
    };
    if (request.ref) await onRecords([await this.reader.read(request.ref)]);
    else await this.reader.scanBatches(group, ranges, onRecords, (done, total) => request.onProgress?.({ phase: 'dlq', group, done, total }));

    await this.replayInputs(group, topic, throughInput, { terminal, retryTopic, retryPartitions }, request, tally, producer);
  }

  /** Produces the current input of each key, once per key however many of its records are dead. */
  private async replayInputs(
    group: string,
    dlqTopic: string,
    items: ReadonlyArray<{ record: DeadRecord; note?: string }>,
    target: { terminal: boolean; retryTopic: string | undefined; retryPartitions: number | undefined },
    request: ReplayRequest,
    tally: ReplayTally,
    producer: Producer | undefined,
  ): Promise<void> {
    const byPartition = new Map<string, { topic: string; partition: number; keys: Map<string, Array<{ record: DeadRecord; note?: string }>> }>();
    for (const item of items) {
      const { topic, partition } = item.record.original!;
      const id = `${topic}\u0000${partition}`;
      let entry = byPartition.get(id);
      if (!entry) byPartition.set(id, (entry = { topic, partition, keys: new Map() }));
      const key = item.record.key!;
      const list = entry.keys.get(key);
      if (list) list.push(item);
      else entry.keys.set(key, [item]);
    }
    const now = request.now ?? Date.now;
    const limit = this.options.maxMessageBytes ?? 4 * 1024 * 1024;
    let done = 0;
    for (const { topic, partition, keys } of byPartition.values()) {
      const notReplayable = (why: string) => {
        for (const list of keys.values()) for (const { record } of list) tally.skip(dlqTopic, record, group, 'not-replayable', why);
      };
      const range = await withAdmin(this.kafka, async (admin) => ((await admin.listTopics()).includes(topic) ? (await admin.fetchTopicOffsets(topic)).find((p) => p.partition === partition) : undefined));
      if (!range) {
        notReplayable(`its input ${topic} partition ${partition} does not exist`);
        continue;
      }
      // The latest record of each wanted key: the partition is read to its end offset, since a
      // compacted topic may still hold older records of the key before the newest.
      const latest = new Map<string, KafkaMessage>();
      await readWindows(
        this.kafka,
        topic,
        [{ partition, from: range.low, to: range.high }],
        (_partition, messages) => {
          for (const message of messages) {
            const key = message.key?.toString('utf8');
            if (key !== undefined && keys.has(key)) latest.set(key, message);
          }
        },
        this.reader.readOptions,
      );
      const deliveries: Delivery[] = [];
      for (const [key, list] of keys) {
        const message = latest.get(key);
        const records = list.map((i) => i.record);
        const newest = records.reduce((a, b) => (b.timestamp >= a.timestamp ? b : a));
        if (!message) {
          for (const record of records) tally.skip(dlqTopic, record, group, 'not-replayable', `the key has no record in ${topic} partition ${partition} any more (a delete whose tombstone compaction removed): there is no current input to re-process`);
          continue;
        }
        const source = { topic, partition, offset: message.offset, tombstone: message.value === null };
        const note = list.find((i) => i.note)?.note;
        let outgoing: Message & { partition: number };
        if (target.terminal) {
          const failure = Object.fromEntries(FAILURE_HEADERS.filter((h) => newest.headers[h] !== undefined).map((h) => [h, newest.headers[h]!]));
          const headers = { ...headersToStrings(message.headers), ...failure, [HEADERS.origTopic]: topic, [HEADERS.origPartition]: String(partition), [HEADERS.origOffset]: message.offset };
          const retry = replayRetryMessage({ key: message.key, value: message.value, headers }, newest.ref, now());
          outgoing = { ...retry, partition: partitionOf(message.key, target.retryPartitions!) };
        } else {
          // The input as it is (exact value bytes and headers), on its own partition, saying which DLQ record asked for it.
          const headers: IHeaders = { ...message.headers, [HEADERS.replayOf]: newest.ref };
          outgoing = { key: message.key, value: message.value, headers, partition };
        }
        if (messageBytes(outgoing) > limit) {
          for (const record of records) tally.skip(dlqTopic, record, group, 'not-replayable', `the key's current input (${topic} offset ${message.offset}) is over max.message.bytes (${limit}) with the replay headers`);
          continue;
        }
        deliveries.push({ message: outgoing, records, path: 'input', source, ...(note ? { note } : {}) });
      }
      await this.deliver(target.retryTopic ?? topic, deliveries, group, dlqTopic, tally, producer, now);
      request.onProgress?.({ phase: 'inputs', group, done: ++done, total: byPartition.size });
    }
  }

  /**
   * Produces `deliveries` to `topic` in calls of bounded size; after each call is acknowledged, the
   * marks of its DLQ records. On a dry run it only counts.
   */
  private async deliver(topic: string, deliveries: readonly Delivery[], group: string, dlqTopic: string, tally: ReplayTally, producer: Producer | undefined, now: () => number): Promise<void> {
    const report = (d: Delivery, to?: ReplayedRecord['to']) => {
      for (const record of d.records) {
        tally.replay(dlqTopic, { ref: record.ref, group, key: record.key, code: record.errorCode, path: d.path, ...(to ? { to } : {}), ...(d.source ? { source: d.source } : {}), ...(d.note ? { note: d.note } : {}) });
      }
    };
    if (!producer) {
      deliveries.forEach((d) => report(d));
      return;
    }
    const maxBytes = this.options.maxBatchBytes ?? 1024 * 1024;
    for (let start = 0; start < deliveries.length; ) {
      let end = start;
      let bytes = 0;
      while (end < deliveries.length && (end === start || bytes + messageBytes(deliveries[end]!.message) <= maxBytes)) bytes += messageBytes(deliveries[end++]!.message);
      const batch = deliveries.slice(start, end);
      const metadata = await producer.send({ topic, acks: -1, messages: batch.map((d) => d.message) });
      const placed = offsetsOf(batch.map((d) => d.message.partition), metadata);
      const at = new Date(now()).toISOString();
      const marks = batch.flatMap((d, i) =>
        d.records.map((record) => ({ ref: record.ref, mark: { state: 'replayed' as const, at, deadLetteredAt: record.timestamp, to: { topic, partition: d.message.partition, offset: placed[i]!, via: d.path } } })),
      );
      // Only now: a crash before this line leaves the records unmarked, to be replayed again.
      await this.marks.write(producer, marks);
      batch.forEach((d, i) => report(d, { topic, partition: d.message.partition, offset: placed[i]! }));
      start = end;
    }
  }

  private async partitionCount(topic: string): Promise<number | undefined> {
    return withAdmin(this.kafka, async (admin) => {
      if (!(await admin.listTopics()).includes(topic)) return undefined;
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      return topics[0]?.partitions.length;
    });
  }
}

const partitioner = PARTITIONER();

/** The partition ragsync's one partitioner gives `key` in a topic of `count` partitions. */
export function partitionOf(key: Message['key'], count: number): number {
  const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }) as PartitionMetadata);
  return partitioner({ topic: '', partitionMetadata, message: { key: key ?? null, value: null } });
}

/** The offset of each message of one produce call: per partition, the base offset plus its place among that partition's messages. */
export function offsetsOf(partitions: readonly number[], metadata: readonly RecordMetadata[]): string[] {
  const next = new Map(metadata.map((m) => [m.partition, BigInt(m.baseOffset ?? '-1')]));
  return partitions.map((p) => {
    const offset = next.get(p);
    if (offset === undefined || offset < 0n) return '?';
    next.set(p, offset + 1n);
    return offset.toString();
  });
}
