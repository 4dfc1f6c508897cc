import type { Consumer, Kafka } from 'kafkajs';
import { uniqueName } from '../../support/unique.js';

/**
 * What the group coordinator itself recorded: every offset commit it accepted is a record of
 * Kafka's internal `__consumer_offsets` topic. Reading those records checks the pipeline's commits
 * from outside the code under test, as the broker took them, whatever the workers believe they sent.
 *
 * Record layout (Kafka's OffsetCommitKey / OffsetCommitValue schemas, group-coordinator module):
 * - key: int16 version; versions 0 and 1 are an offset commit: group, topic (int16 length + UTF-8
 *   each), int32 partition. Version 2 is a group's metadata; later versions are records of the
 *   newer group types. Only 0 and 1 concern offsets.
 * - value: int16 version 0..4, then int64 offset, int32 leader epoch (3+), metadata string,
 *   int64 commit timestamp, int64 expire timestamp (1 only). Version 4 is the first "flexible"
 *   one: its string is a compact string (unsigned varint length + 1) and tagged fields end it.
 *   Kafka 3.9 writes 3 (1 when the commit carried a retention time); 4 is read all the same.
 * - a null value (tombstone): the group's offset for the partition was deleted.
 */
export const OFFSETS_TOPIC = '__consumer_offsets';

export interface OffsetCommitKey {
  group: string;
  topic: string;
  partition: number;
}

export interface OffsetCommitValue {
  offset: bigint;
  /** -1 when the commit named none or the value version has no such field. */
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
}

/** One commit the coordinator accepted, and where it was recorded (its order within the group). */
export interface OffsetCommit extends OffsetCommitKey, OffsetCommitValue {
  /** Partition and offset of the record in `__consumer_offsets`. */
  recordPartition: number;
  recordOffset: bigint;
}

class Reader {
  private at = 0;

  constructor(private readonly bytes: Buffer) {}

  int16(): number {
    const value = this.bytes.readInt16BE(this.at);
    this.at += 2;
    return value;
  }

  int32(): number {
    const value = this.bytes.readInt32BE(this.at);
    this.at += 4;
    return value;
  }

  int64(): bigint {
    const value = this.bytes.readBigInt64BE(this.at);
    this.at += 8;
    return value;
  }

  unsignedVarint(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.bytes.readUInt8(this.at++);
      value |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value >>> 0;
    }
    throw new Error('varint longer than 5 bytes');
  }

  private take(length: number): string {
    if (this.at + length > this.bytes.length) throw new RangeError(`string of ${length} bytes runs past the record (${this.bytes.length} bytes)`);
    const text = this.bytes.toString('utf8', this.at, this.at + length);
    this.at += length;
    return text;
  }

  /** int16 length and UTF-8 bytes; -1 is null, read as ''. */
  string(): string {
    const length = this.int16();
    return length < 0 ? '' : this.take(length);
  }

  /** Unsigned varint of length + 1 (0 is null, read as ''), then UTF-8 bytes. */
  compactString(): string {
    const length = this.unsignedVarint() - 1;
    return length < 0 ? '' : this.take(length);
  }

  /** Tagged fields of a flexible version: skipped, none of them is read here. */
  skipTaggedFields(): void {
    const count = this.unsignedVarint();
    for (let i = 0; i < count; i += 1) {
      this.unsignedVarint(); // tag
      const size = this.unsignedVarint();
      this.at += size;
    }
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }
}

/** The group, topic and partition of an offset commit record's key; undefined for any other record of the topic. */
export function decodeOffsetCommitKey(key: Buffer): OffsetCommitKey | undefined {
  const reader = new Reader(key);
  const version = reader.int16();
  if (version !== 0 && version !== 1) return undefined;
  return { group: reader.string(), topic: reader.string(), partition: reader.int32() };
}

export function decodeOffsetCommitValue(value: Buffer): OffsetCommitValue {
  const reader = new Reader(value);
  const version = reader.int16();
  // A layout not known here would be read as garbage offsets: fail loudly instead.
  if (version < 0 || version > 4) throw new Error(`offset commit value version ${version} is not one this reader knows (0..4)`);
  const offset = reader.int64();
  const leaderEpoch = version >= 3 ? reader.int32() : -1;
  const metadata = version >= 4 ? reader.compactString() : reader.string();
  const commitTimestamp = Number(reader.int64());
  if (version === 1) reader.int64(); // expire timestamp
  if (version >= 4) reader.skipTaggedFields();
  if (reader.remaining !== 0) throw new Error(`offset commit value version ${version} has ${reader.remaining} bytes left over`);
  return { offset, leaderEpoch, metadata, commitTimestamp };
}

/**
 * One record of `__consumer_offsets`: an offset commit, the deletion of a group's offset for a
 * partition (a tombstone), or undefined for anything else (group metadata and the like).
 */
export function decodeOffsetsRecord(key: Buffer | null, value: Buffer | null): ({ kind: 'commit' } & OffsetCommitKey & OffsetCommitValue) | ({ kind: 'deleted' } & OffsetCommitKey) | undefined {
  if (key === null) return undefined;
  const decodedKey = decodeOffsetCommitKey(key);
  if (!decodedKey) return undefined;
  if (value === null) return { kind: 'deleted', ...decodedKey };
  return { kind: 'commit', ...decodedKey, ...decodeOffsetCommitValue(value) };
}

/** Java's String.hashCode, which Kafka uses to place a group on a partition of `__consumer_offsets`. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i += 1) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The partition of `__consumer_offsets` holding a group's records: `Utils.abs(groupId.hashCode) %
 * partitions` in Kafka, where Utils.abs is Math.abs except that the smallest int gives 0.
 */
export function offsetsPartitionFor(group: string, partitions: number): number {
  const hash = javaStringHash(group);
  return (hash === -2147483648 ? 0 : Math.abs(hash)) % partitions;
}

/**
 * Reads the offset commits of some groups as the coordinator records them, from the moment it is
 * started to the moment it is stopped. It reads along while the run goes on rather than once at
 * the end: `__consumer_offsets` is compacted, and an intermediate commit (the one that went
 * backwards) could otherwise be gone before it is read.
 */
export class OffsetCommitLog {
  private readonly commits = new Map<string, OffsetCommit>();
  /** Next offset to read, per partition of `__consumer_offsets` that holds one of the groups. */
  private readonly position = new Map<number, bigint>();
  private stopped: OffsetCommit[] | undefined;

  private constructor(
    private readonly kafka: Kafka,
    private readonly consumer: Consumer,
    private readonly readerGroup: string,
    private readonly groups: ReadonlySet<string>,
  ) {}

  /**
   * Starts reading at the current end of the partitions holding `groups`: call it before anything
   * of those groups runs, and every commit they make is read.
   */
  static async start(kafka: Kafka, groups: readonly string[]): Promise<OffsetCommitLog> {
    const admin = kafka.admin();
    await admin.connect();
    let offsets: Array<{ partition: number; high: string }>;
    try {
      offsets = await admin.fetchTopicOffsets(OFFSETS_TOPIC);
    } finally {
      await admin.disconnect();
    }
    const held = new Set(groups.map((g) => offsetsPartitionFor(g, offsets.length)));
    // A group of its own, not under the pipeline's prefix; it never commits (autoCommit off).
    const readerGroup = uniqueName('offset-commits');
    const consumer = kafka.consumer({ groupId: readerGroup, allowAutoTopicCreation: false, maxWaitTimeInMs: 250 });
    const log = new OffsetCommitLog(kafka, consumer, readerGroup, new Set(groups));
    for (const o of offsets) if (held.has(o.partition)) log.position.set(o.partition, BigInt(o.high));
    const starts = new Map(log.position);
    await consumer.connect();
    // A batch of transaction markers only never reaches `eachBatch`; this event still says how far the partition was read.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.batchSize === 0) log.advance(payload.partition, BigInt(payload.lastOffset) + 1n);
    });
    await consumer.subscribe({ topic: OFFSETS_TOPIC, fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, isStale }) => {
        const start = starts.get(batch.partition);
        // Fetched before the seek below took effect: read again from the start offset.
        if (start === undefined || isStale()) return;
        for (const message of batch.messages) {
          const recordOffset = BigInt(message.offset);
          if (recordOffset < start) continue;
          const decoded = decodeOffsetsRecord(message.key, message.value);
          if (decoded?.kind !== 'commit' || !log.groups.has(decoded.group)) continue;
          const { kind: _kind, ...commit } = decoded;
          // Keyed by position: a record read twice (around the seek) counts once.
          log.commits.set(`${batch.partition}:${recordOffset}`, { ...commit, recordPartition: batch.partition, recordOffset });
        }
        log.advance(batch.partition, BigInt(batch.lastOffset()) + 1n);
      },
    });
    // Right after joining, before any fetched batch is handled: the other partitions hold other
    // groups and are not read; these start where the groups' records will start.
    const others = offsets.map((o) => o.partition).filter((p) => !held.has(p));
    if (others.length > 0) consumer.pause([{ topic: OFFSETS_TOPIC, partitions: others }]);
    for (const [partition, start] of starts) consumer.seek({ topic: OFFSETS_TOPIC, partition, offset: start.toString() });
    return log;
  }

  private advance(partition: number, next: bigint): void {
    const current = this.position.get(partition);
    if (current !== undefined && next > current) this.position.set(partition, next);
  }

  /**
   * Reads on to the current end of the partitions (call it once the groups no longer commit),
   * stops, and returns every commit of the groups in the order the coordinator recorded them.
   */
  async stop(timeoutMs = 60_000): Promise<OffsetCommit[]> {
    if (this.stopped) return this.stopped;
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Map<number, bigint>;
    try {
      ends = new Map((await admin.fetchTopicOffsets(OFFSETS_TOPIC)).map((o) => [o.partition, BigInt(o.high)]));
    } finally {
      await admin.disconnect();
    }
    const behind = () => [...this.position].filter(([partition, at]) => at < (ends.get(partition) ?? 0n));
    const deadline = Date.now() + timeoutMs;
    while (behind().length > 0) {
      if (Date.now() > deadline) {
        await this.close();
        throw new Error(`${OFFSETS_TOPIC} not read to its end in ${timeoutMs} ms: ${behind().map(([p, at]) => `partition ${p} at ${at} of ${ends.get(p)}`).join(', ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.close();
    this.stopped = [...this.commits.values()].sort((a, b) => a.recordPartition - b.recordPartition || (a.recordOffset < b.recordOffset ? -1 : a.recordOffset > b.recordOffset ? 1 : 0));
    return this.stopped;
  }

  /** Stops reading without waiting for the end (after a failure); the reader's group is deleted. */
  async close(): Promise<void> {
    await this.consumer.disconnect().catch(() => undefined);
    const admin = this.kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([this.readerGroup]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

export interface OffsetCommitCheck {
  /** Commits read, by group. */
  counts: Record<string, number>;
  /** Commits below the offset the group had already committed for the partition. */
  backwards: string[];
  /** Commits outside 0 .. the partition's end offset. */
  outOfRange: string[];
}

const describeCommit = (c: OffsetCommit) => `${c.group} ${c.topic}[${c.partition}] offset ${c.offset} (recorded at ${OFFSETS_TOPIC}-${c.recordPartition}@${c.recordOffset}, ${new Date(c.commitTimestamp).toISOString()})`;

/**
 * Checks commits in the order the coordinator recorded them: per group, topic and partition the
 * committed offset never goes backwards, and never passes the partition's end offset (`ends`:
 * topic → partition → end offset, read after the commits). A member that commits a partition it
 * no longer owns, after its new owner committed further, sets the offset back: the first check
 * sees it.
 */
export function checkOffsetCommits(commits: readonly OffsetCommit[], ends: ReadonlyMap<string, ReadonlyMap<number, bigint>>): OffsetCommitCheck {
  const counts: Record<string, number> = {};
  const backwards: string[] = [];
  const outOfRange: string[] = [];
  const last = new Map<string, OffsetCommit>();
  for (const commit of commits) {
    counts[commit.group] = (counts[commit.group] ?? 0) + 1;
    const id = `${commit.group}\u0000${commit.topic}\u0000${commit.partition}`;
    const previous = last.get(id);
    if (previous && commit.offset < previous.offset) backwards.push(`${describeCommit(commit)} after ${previous.offset} (${new Date(previous.commitTimestamp).toISOString()})`);
    if (!previous || commit.offset > previous.offset) last.set(id, commit);
    const end = ends.get(commit.topic)?.get(commit.partition);
    if (commit.offset < 0n || end === undefined || commit.offset > end) outOfRange.push(`${describeCommit(commit)}, end offset ${end ?? 'unknown'}`);
  }
  return { counts, backwards, outOfRange };
}

/** The end offsets of the topics `commits` name, for {@link checkOffsetCommits}. */
export async function endOffsets(kafka: Kafka, commits: readonly OffsetCommit[]): Promise<Map<string, Map<number, bigint>>> {
  const ends = new Map<string, Map<number, bigint>>();
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const topic of new Set(commits.map((c) => c.topic))) {
      ends.set(topic, new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])));
    }
  } finally {
    await admin.disconnect();
  }
  return ends;
}
