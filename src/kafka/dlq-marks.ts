import type { Kafka, Message, Producer } from 'kafkajs';
import { withAdmin } from './admin.js';
import { readWindows, type DeadRecord, type PartitionRange, type ReadWindowsOptions } from './dlq-reader.js';
import { DLQ_MARKS_TOPIC } from './topic-catalogue.js';

/**
 * What happened to dead-lettered records, in the compacted topic `<prefix>dlq.marks`, its values
 * small JSON objects:
 *
 * - `<group>:<partition>:<offset>`: that DLQ record was replayed (when, and where it went).
 *   `dlq show` says so, `dlq replay` skips it, `dlq list` counts it apart from the depth.
 * - `<group>:<partition>:purged`: what `dlq purge` deleted from that partition, in total, and up to
 *   which offset. One record per partition, not one per deleted record: the depth counts the records
 *   a topic still holds, so deleted ones need no mark of their own, and a purge also removes
 *   (tombstones) the replay marks of the records it deleted. So the topic stays as small as what
 *   the DLQs hold.
 *
 * A replay mark is written only after Kafka acknowledged the replayed record: a crash in between
 * leaves the record unmarked, so it is replayed once more, which the version guards make harmless.
 */

export type MarkState = 'replayed' | 'purged';

export interface DlqMark {
  state: MarkState;
  /** When it was replayed, or when the partition was last purged, ISO 8601. */
  at: string;
  /**
   * Replay marks: the DLQ record's own timestamp (epoch ms). A mark applies to that record only,
   * never to another one that a DLQ topic deleted and created again puts at the same offset.
   */
  deadLetteredAt?: number;
  /** Replay marks: where the record went, and by which path. */
  to?: { topic: string; partition: number; offset: string; via: 'retry' | 'input' };
  /** Purge marks: the `--before` time of the last purge. */
  before?: string;
  /** Purge marks: the partition's first offset after the last purge; every record below it is gone. */
  upTo?: string;
  /** Purge marks: records of the partition deleted by every purge so far. */
  total?: number;
}

/** The key of a partition's purge mark. */
export const purgeMarkRef = (group: string, partition: number): string => `${group}:${partition}:purged`;

export function encodeMark(mark: DlqMark): Buffer {
  return Buffer.from(JSON.stringify(mark), 'utf8');
}

/** A mark read back; undefined for a value that is not one (a tombstone, another writer's bytes). */
export function decodeMark(bytes: Buffer | null): DlqMark | undefined {
  if (!bytes || bytes.length === 0) return undefined;
  try {
    const value = JSON.parse(bytes.toString('utf8')) as Partial<DlqMark>;
    if ((value.state !== 'replayed' && value.state !== 'purged') || typeof value.at !== 'string') return undefined;
    return value as DlqMark;
  } catch {
    return undefined;
  }
}

/** The marks read from the topic, by DLQ record reference. */
export class MarkIndex {
  private readonly marks = new Map<string, DlqMark>();

  set(ref: string, mark: DlqMark | undefined): void {
    if (mark) this.marks.set(ref, mark);
    else this.marks.delete(ref);
  }

  get(ref: string): DlqMark | undefined {
    return this.marks.get(ref);
  }

  /** The replay mark of this record, when it was replayed (and the mark is this record's). */
  replayed(record: Pick<DeadRecord, 'ref' | 'timestamp'>): DlqMark | undefined {
    const mark = this.marks.get(record.ref);
    if (mark?.state !== 'replayed') return undefined;
    return mark.deadLetteredAt === undefined || mark.deadLetteredAt === record.timestamp ? mark : undefined;
  }

  /**
   * Records of `group` that `dlq purge` deleted, from the partitions' purge marks. A mark whose
   * offset lies above what the partition holds belongs to an earlier topic of the same name.
   */
  purged(group: string, ranges: readonly PartitionRange[] | undefined): number {
    if (!ranges) return 0;
    let count = 0;
    for (const range of ranges) {
      const mark = this.marks.get(purgeMarkRef(group, range.partition));
      if (mark?.state === 'purged' && mark.upTo !== undefined && BigInt(mark.upTo) <= BigInt(range.low)) count += mark.total ?? 0;
    }
    return count;
  }

  /** When a record that is no longer held was purged: the time of the partition's last purge that reached it. */
  purgedAt(group: string, partition: number, offset: string): string | undefined {
    const mark = this.marks.get(purgeMarkRef(group, partition));
    return mark?.state === 'purged' && mark.upTo !== undefined && BigInt(offset) < BigInt(mark.upTo) ? mark.at : undefined;
  }

  /**
   * Replay marks of records `ranges` still holds: held minus this is the depth without reading the
   * records (for `ragsync status`; `dlq list` reads them and also checks each mark's timestamp).
   */
  replayedWithin(group: string, ranges: readonly PartitionRange[]): number {
    const held = new Map(ranges.map((r) => [r.partition, r]));
    let count = 0;
    for (const [ref, mark] of this.marks) {
      if (mark.state !== 'replayed' || !ref.startsWith(`${group}:`)) continue;
      const [, partition, offset] = ref.split(':');
      const range = held.get(Number(partition));
      if (range && /^\d+$/.test(offset ?? '') && BigInt(offset!) >= BigInt(range.low) && BigInt(offset!) < BigInt(range.high)) count += 1;
    }
    return count;
  }

  /** The replay marks of one partition of `group` below `offset`. */
  replayMarksBelow(group: string, partition: number, offset: string): string[] {
    const refs: string[] = [];
    const head = `${group}:${partition}:`;
    for (const [ref, mark] of this.marks) {
      const rest = ref.slice(head.length);
      if (mark.state === 'replayed' && ref.startsWith(head) && /^\d+$/.test(rest) && BigInt(rest) < BigInt(offset)) refs.push(ref);
    }
    return refs;
  }

  get size(): number {
    return this.marks.size;
  }
}

export interface DlqMarksOptions extends ReadWindowsOptions {
  topicPrefix: string;
  /** Marks per produce call. @defaultValue 2000 */
  batchSize?: number;
}

/** Reads and writes `<prefix>dlq.marks`. */
export class DlqMarks {
  readonly topic: string;

  constructor(
    private readonly kafka: Kafka,
    private readonly options: DlqMarksOptions,
  ) {
    this.topic = `${options.topicPrefix}${DLQ_MARKS_TOPIC}`;
  }

  /** Why the topic is needed, for errors: naming the command that creates it. */
  missing(): string {
    return `topic ${this.topic} does not exist (run \`ragsync topics apply\`): it records which dead-lettered records were replayed or purged`;
  }

  /** Every mark, or undefined when the topic does not exist. */
  async load(): Promise<MarkIndex | undefined> {
    const ranges = await withAdmin(this.kafka, async (admin) => {
      if (!(await admin.listTopics()).includes(this.topic)) return undefined;
      return admin.fetchTopicOffsets(this.topic);
    });
    if (!ranges) return undefined;
    const index = new MarkIndex();
    const windows = ranges.map((r) => ({ partition: r.partition, from: r.low, to: r.high }));
    await readWindows(
      this.kafka,
      this.topic,
      windows,
      (_partition, messages) => {
        for (const message of messages) {
          const ref = message.key?.toString('utf8');
          if (!ref) continue;
          // In offset order per partition, and a key always on the same partition: the last one wins.
          index.set(ref, decodeMark(message.value));
        }
      },
      this.options,
    );
    return index;
  }

  /** Writes marks (or removes them: no mark) and waits for Kafka's acknowledgement of every one. */
  async write(producer: Producer, marks: ReadonlyArray<{ ref: string; mark: DlqMark | null }>): Promise<void> {
    const size = this.options.batchSize ?? 2000;
    for (let i = 0; i < marks.length; i += size) {
      const messages: Message[] = marks.slice(i, i + size).map(({ ref, mark }) => ({ key: ref, value: mark ? encodeMark(mark) : null }));
      await producer.send({ topic: this.topic, acks: -1, messages });
    }
  }

  /**
   * After a purge: per partition, the purge mark with the new total, and the replay marks of the
   * records deleted removed. `index` is the marks as read before the purge.
   */
  async writePurged(
    producer: Producer,
    index: MarkIndex,
    group: string,
    partitions: ReadonlyArray<{ partition: number; deleted: number; lowAfter: string }>,
    before: string,
    now = Date.now(),
  ): Promise<void> {
    const at = new Date(now).toISOString();
    const marks: Array<{ ref: string; mark: DlqMark | null }> = [];
    for (const p of partitions) {
      if (p.deleted === 0) continue;
      const ref = purgeMarkRef(group, p.partition);
      const previous = index.get(ref);
      // A previous mark above the new start belongs to an earlier topic of the same name.
      const carried = previous?.upTo !== undefined && BigInt(previous.upTo) <= BigInt(p.lowAfter) ? (previous.total ?? 0) : 0;
      marks.push({ ref, mark: { state: 'purged', at, before, upTo: p.lowAfter, total: carried + p.deleted } });
      for (const replayed of index.replayMarksBelow(group, p.partition, p.lowAfter)) marks.push({ ref: replayed, mark: null });
    }
    await this.write(producer, marks);
  }
}
