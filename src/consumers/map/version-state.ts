import type { Assignment } from '../../core/stage.js';
import type { MapStateRecord } from '../../schemas/zod/map-state.js';

/**
 * The map stage's per-key version state (docs/design.md §2 "Monotonic from the first hop on").
 * Compaction keeps the last record of a key, not the one with the highest version, so the first
 * consumer of the change topics remembers, per key, the newest change it applied, drops older ones
 * and repairs a change topic whose last record went backwards. The state lives in the compacted
 * topic `map.state` (written by the runner as outputs of the map stage, next to `documents`), keyed
 * and partitioned like the change topics, so the state of change partition p is in `map.state`
 * partition p.
 *
 * Memory: key → (version, deleted, offset) for every key of the owned partitions; the wire bytes of
 * applied records only in a byte-bounded LRU. A repair needs the bytes of one key; when they have
 * left the LRU they are read back from `map.state` (slow, and rare: a regression arrives soon
 * after the record it loses to).
 */

/** Logical name of the state topic. */
export const MAP_STATE_TOPIC = 'map.state';

/** What the stage knows of a key: the newest change it applied. */
export interface AppliedVersion {
  version: bigint;
  deleted: boolean;
  /** Offset of the applied record in its change topic partition. */
  offset: bigint;
  /** Read back from `map.state`: the topic already holds this entry. */
  stored: boolean;
}

/** The newest applied change of a key as it was written: what a repair republishes. */
export interface AppliedChange {
  /** Logical change topic, e.g. `changes.product`. */
  topic: string;
  key: string;
  version: bigint;
  occurredAt: number;
  /** The applied record was a tombstone. */
  deleted: boolean;
  /**
   * Wire bytes (Confluent format); null for a tombstone, or for a value too large to fit a
   * `map.state` record (then the change topic cannot be repaired for this key).
   */
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ChangePartition {
  /** Logical change topic. */
  topic: string;
  partition: number;
}

/** The state the map stage is given (docs/design.md §2); the stage never touches Kafka itself. */
export interface MapVersionState {
  /** After a rebalance: keeps the owned change partitions, restores new ones, forgets the rest. */
  assign(assignment: Assignment): Promise<void>;
  /** Restores the state of these change partitions unless it is loaded already. */
  ensure(partitions: readonly ChangePartition[]): Promise<void>;
  get(topic: string, partition: number, key: string): AppliedVersion | undefined;
  /** Records an applied change (its state record is an output of the same `process` call). */
  apply(partition: number, offset: bigint, change: AppliedChange): void;
  /**
   * The newest applied changes of these keys, as written. A key whose bytes cannot be found
   * (which only happens when `map.state` lost its record) is missing from the result.
   */
  changes(wanted: ReadonlyArray<ChangePartition & { key: string }>): Promise<Map<string, AppliedChange>>;
  close(): Promise<void>;
}

/** One record of `map.state`, decoded. */
export interface StateLogRecord {
  partition: number;
  key: string;
  value: MapStateRecord;
}

/** Reads `map.state` back; the Kafka implementation is src/kafka/version-state.ts. */
export interface StateLog {
  /**
   * Calls `onRecord` for every record of these partitions, in offset order per partition, up to
   * the end offsets of the moment of the call.
   */
  read(partitions: readonly number[], onRecord: (record: StateLogRecord) => void): Promise<void>;
  close?(): Promise<void>;
}

export interface VersionStateOptions {
  /** Bytes of applied values kept in memory for repairs. @defaultValue 16 MiB */
  maxCachedBytes?: number;
}

const pairId = (topic: string, partition: number): string => `${topic}\u0000${partition}`;
/** Rough per-entry overhead of a cached change besides its value bytes. */
const ENTRY_OVERHEAD = 256;

function appliedChange(key: string, value: MapStateRecord): AppliedChange {
  return { topic: value.topic, key, version: value.source_version, occurredAt: value.occurred_at, deleted: value.deleted, value: value.value, headers: value.headers };
}

function sizeOf(change: AppliedChange): number {
  let headers = 0;
  for (const [name, value] of Object.entries(change.headers)) headers += name.length + value.length;
  return ENTRY_OVERHEAD + change.key.length + headers + (change.value?.length ?? 0);
}

/**
 * {@link MapVersionState} over a {@link StateLog}: versions in memory per owned change partition,
 * values in an LRU bounded by bytes, misses read from the log.
 */
export class VersionState implements MapVersionState {
  private readonly versions = new Map<string, Map<string, AppliedVersion>>();
  private readonly restoring = new Map<string, Promise<void>>();
  /** Owned change partitions, once the runner said; before that every partition asked for is kept. */
  private owned: Set<string> | undefined;
  private readonly lru = new Map<string, { change: AppliedChange; bytes: number }>();
  private cachedBytes = 0;
  private readonly maxCachedBytes: number;

  constructor(
    private readonly log: StateLog,
    options: VersionStateOptions = {},
  ) {
    this.maxCachedBytes = options.maxCachedBytes ?? 16 * 1024 * 1024;
  }

  async assign(assignment: Assignment): Promise<void> {
    const wanted: ChangePartition[] = Object.entries(assignment).flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
    this.owned = new Set(wanted.map((p) => pairId(p.topic, p.partition)));
    // A partition that was revoked may come back after another member wrote its state: what is in
    // memory for it is no longer the newest, so it is forgotten and restored when owned again.
    for (const id of [...this.versions.keys()]) if (!this.owned.has(id)) this.versions.delete(id);
    await this.ensure(wanted);
  }

  async ensure(partitions: readonly ChangePartition[]): Promise<void> {
    const missing = partitions.filter((p) => !this.versions.has(pairId(p.topic, p.partition)));
    const waits = missing.map((p) => this.restoring.get(pairId(p.topic, p.partition))).filter((w): w is Promise<void> => w !== undefined);
    const fresh = missing.filter((p) => !this.restoring.has(pairId(p.topic, p.partition)));
    if (fresh.length > 0) {
      const restore = this.restore(fresh);
      for (const p of fresh) this.restoring.set(pairId(p.topic, p.partition), restore);
      waits.push(restore);
      void restore
        .finally(() => {
          for (const p of fresh) this.restoring.delete(pairId(p.topic, p.partition));
        })
        .catch(() => undefined);
    }
    await Promise.all(waits);
  }

  private async restore(partitions: readonly ChangePartition[]): Promise<void> {
    const loaded = new Map(partitions.map((p) => [pairId(p.topic, p.partition), new Map<string, AppliedVersion>()]));
    const numbers = [...new Set(partitions.map((p) => p.partition))];
    await this.log.read(numbers, ({ partition, key, value }) => {
      const entries = loaded.get(pairId(value.topic, partition));
      // map.state partition p holds every change topic's keys of partition p; other members own
      // the change partitions this one does not.
      if (!entries) return;
      entries.set(key, { version: value.source_version, deleted: value.deleted, offset: value.change_offset, stored: true });
      this.cache(appliedChange(key, value));
    });
    for (const [id, entries] of loaded) {
      if (this.owned === undefined || this.owned.has(id)) this.versions.set(id, entries);
    }
  }

  get(topic: string, partition: number, key: string): AppliedVersion | undefined {
    return this.versions.get(pairId(topic, partition))?.get(key);
  }

  apply(partition: number, offset: bigint, change: AppliedChange): void {
    const id = pairId(change.topic, partition);
    let entries = this.versions.get(id);
    if (!entries) {
      entries = new Map();
      this.versions.set(id, entries);
    }
    entries.set(change.key, { version: change.version, deleted: change.deleted, offset, stored: false });
    this.cache(change);
  }

  async changes(wanted: ReadonlyArray<ChangePartition & { key: string }>): Promise<Map<string, AppliedChange>> {
    const found = new Map<string, AppliedChange>();
    const misses = new Map<string, ChangePartition & { key: string; version: bigint }>();
    for (const w of wanted) {
      const entry = this.get(w.topic, w.partition, w.key);
      if (!entry) continue;
      const cached = this.lru.get(w.key);
      if (cached && cached.change.version === entry.version && cached.change.topic === w.topic) {
        // Most recently used goes last: Map keeps insertion order.
        this.lru.delete(w.key);
        this.lru.set(w.key, cached);
        found.set(w.key, cached.change);
      } else {
        misses.set(w.key, { ...w, version: entry.version });
      }
    }
    if (misses.size === 0) return found;
    // Every entry that is not from this call is in map.state already: the runner produces a
    // partition's next slice only after the outputs of the previous one were acknowledged.
    const last = new Map<string, AppliedChange>();
    await this.log.read([...new Set([...misses.values()].map((m) => m.partition))], ({ partition, key, value }) => {
      const miss = misses.get(key);
      if (!miss || miss.partition !== partition || miss.topic !== value.topic) return;
      last.set(key, appliedChange(key, value));
    });
    for (const [key, miss] of misses) {
      const change = last.get(key);
      if (change && change.version === miss.version) {
        found.set(key, change);
        this.cache(change);
      }
    }
    return found;
  }

  private cache(change: AppliedChange): void {
    const previous = this.lru.get(change.key);
    if (previous) {
      this.lru.delete(change.key);
      this.cachedBytes -= previous.bytes;
    }
    const bytes = sizeOf(change);
    if (bytes > this.maxCachedBytes) return;
    // A value read from Kafka is a view into the whole fetch response it came with: copied, so that
    // what the cache holds is its own bytes and not every response a cached value came from.
    const own = change.value ? { ...change, value: Buffer.from(change.value) } : change;
    this.lru.set(change.key, { change: own, bytes });
    this.cachedBytes += bytes;
    for (const [key, entry] of this.lru) {
      if (this.cachedBytes <= this.maxCachedBytes) break;
      this.lru.delete(key);
      this.cachedBytes -= entry.bytes;
    }
  }

  /** Keys and cached bytes, for tests and logs. */
  stats(): { keys: number; cachedValues: number; cachedBytes: number } {
    let keys = 0;
    for (const entries of this.versions.values()) keys += entries.size;
    return { keys, cachedValues: this.lru.size, cachedBytes: this.cachedBytes };
  }

  async close(): Promise<void> {
    await this.log.close?.();
  }
}

/**
 * A {@link StateLog} in memory, for tests: `append` plays the runner's part of producing the
 * stage's `map.state` outputs.
 */
export class MemoryStateLog implements StateLog {
  readonly records: StateLogRecord[] = [];
  reads = 0;

  append(partition: number, key: string, value: MapStateRecord): void {
    this.records.push({ partition, key, value });
  }

  async read(partitions: readonly number[], onRecord: (record: StateLogRecord) => void): Promise<void> {
    this.reads++;
    const wanted = new Set(partitions);
    for (const record of [...this.records]) if (wanted.has(record.partition)) onRecord(record);
  }
}
