import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { findRagsyncError, PermanentError, RetryableError, SystemError } from '../core/errors.js';
import { MAP_STATE_TOPIC, VersionState, type StateLog, type StateLogRecord, type VersionStateOptions } from '../consumers/map/version-state.js';
import type { Logger } from '../observability/logger.js';
import type { MapStateRecord } from '../schemas/zod/map-state.js';
import { withAdmin } from './admin.js';
import type { RecordCodec } from './codec.js';
import { partitionCounts } from './topic-state.js';

export interface KafkaStateLogOptions {
  kafka: Kafka;
  /** Decodes `map.state` values (the registry serde). */
  codec: RecordCodec;
  topicPrefix: string;
  logger: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** Change topics (logical) whose partition count `map.state` must share. */
  changeTopics: readonly string[];
  /** Longest a read of the state topic may take. @defaultValue 300_000 */
  readTimeoutMs?: number;
}

/**
 * Reads `map.state` back for the map stage's version state (src/consumers/map/version-state.ts).
 *
 * kafkajs has no manual partition assignment, so each read is a throwaway consumer with a unique
 * group id that subscribes from the beginning, pauses the partitions it does not want, stops once
 * every wanted partition reached the end offset captured when the read started, and deletes its
 * group afterwards. It commits nothing. Reads happen on a rebalance (restore) and on the rare
 * regression whose newest value left the in-memory cache.
 */
export class KafkaStateLog implements StateLog {
  private readonly topic: string;
  private checked = false;

  constructor(private readonly options: KafkaStateLogOptions) {
    this.topic = `${options.topicPrefix}${MAP_STATE_TOPIC}`;
  }

  async read(partitions: readonly number[], onRecord: (record: StateLogRecord) => void): Promise<void> {
    try {
      await this.readOnce(partitions, onRecord);
    } catch (error) {
      // A Kafka failure while reading is the cluster's, never a record's: retry later.
      if (findRagsyncError(error)) throw error;
      throw new RetryableError(`reading ${this.topic} failed: ${(error as Error).message ?? String(error)}`, { code: 'map_state_read_failed', cause: error });
    }
  }

  private async readOnce(partitions: readonly number[], onRecord: (record: StateLogRecord) => void): Promise<void> {
    const { kafka, logger } = this.options;
    const offsets = await withAdmin(kafka, async (admin) => {
      if (!this.checked) {
        await this.checkPartitions(admin);
        this.checked = true;
      }
      return admin.fetchTopicOffsets(this.topic);
    });
    const wanted = new Set(partitions);
    // An empty partition (high = low) has nothing to restore: no consumer waits for it.
    const ends = new Map(offsets.filter((o) => wanted.has(o.partition) && BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
    if (ends.size === 0) return;
    const others = offsets.map((o) => o.partition).filter((p) => !ends.has(p));

    const groupId = `${this.options.topicPrefix}map.state-reader.${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxBytesPerPartition: 8 * 1024 * 1024 });
    const started = Date.now();
    let records = 0;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timeoutMs = this.options.readTimeoutMs ?? 300_000;
        const timer = setTimeout(
          () => reject(new RetryableError(`reading ${this.topic} did not reach the end of partition(s) ${[...ends.keys()].join(', ')} within ${timeoutMs} ms`, { code: 'map_state_read_timeout' })),
          timeoutMs,
        );
        const finish = (error?: unknown) => {
          clearTimeout(timer);
          if (error === undefined) resolve();
          else reject(error);
        };
        consumer.on(consumer.events.CRASH, ({ payload }) => finish(payload.error));
        // Paused before the first fetch, so partitions nobody asked for are never read.
        consumer.on(consumer.events.GROUP_JOIN, () => {
          if (others.length > 0) consumer.pause([{ topic: this.topic, partitions: others }]);
        });
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              const end = ends.get(batch.partition);
              if (end === undefined) {
                consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
                return;
              }
              for (const message of batch.messages) {
                if (BigInt(message.offset) >= end) break;
                // map.state never holds tombstones; a key without one is not ours.
                if (message.value === null || message.key === null) continue;
                const value = await this.decode(message.value, batch.partition, message.offset);
                if (value) {
                  onRecord({ partition: batch.partition, key: message.key.toString('utf8'), value });
                  records++;
                }
              }
              if (BigInt(batch.lastOffset()) + 1n >= end) {
                ends.delete(batch.partition);
                consumer.pause([{ topic: this.topic, partitions: [batch.partition] }]);
                if (ends.size === 0) finish();
              }
            },
          })
          .catch(finish);
      });
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await withAdmin(kafka, (admin) => admin.deleteGroups([groupId])).catch((error: unknown) => logger.warn({ err: (error as Error).message, groupId }, 'could not delete the map.state reader group'));
    }
    logger.info({ topic: this.topic, partitions, records, ms: Date.now() - started }, 'map.state read');
  }

  private async decode(bytes: Buffer, partition: number, offset: string): Promise<MapStateRecord | undefined> {
    try {
      return (await this.options.codec.decode(this.topic, bytes)) as MapStateRecord;
    } catch (error) {
      // A record of our own that no longer decodes loses that key's guard, but must not stop
      // every other key's: it is logged and skipped. Anything else (the registry is away) fails the read.
      if (findRagsyncError(error) instanceof PermanentError) {
        this.options.logger.error({ topic: this.topic, partition, offset, err: (error as Error).message }, 'map.state record does not decode; skipped');
        return undefined;
      }
      throw error;
    }
  }

  /**
   * The state of change partition p is found in `map.state` partition p only when both topics
   * have the same partition count (and the one partitioner every ragsync producer uses).
   */
  private async checkPartitions(admin: Admin): Promise<void> {
    const names = [this.topic, ...this.options.changeTopics.map((t) => `${this.options.topicPrefix}${t}`)];
    const counts = await partitionCounts(admin, names);
    const own = counts.get(this.topic);
    const differing = names.slice(1).filter((name) => counts.get(name) !== own);
    if (own === undefined || differing.length > 0) {
      throw new SystemError(
        `${this.topic} has ${own ?? 'no'} partitions, but ${differing.map((n) => `${n} has ${counts.get(n) ?? 'none'}`).join(', ')}: a key's state must sit on the partition number of its changes (run \`ragsync topics apply\` on a cluster where they agree)`,
        { code: 'map_state_partitions' },
      );
    }
  }
}

export interface KafkaVersionStateOptions extends KafkaStateLogOptions, VersionStateOptions {}

/** The map stage's version state backed by the `map.state` topic. */
export function createKafkaVersionState(options: KafkaVersionStateOptions): VersionState {
  return new VersionState(new KafkaStateLog(options), options.maxCachedBytes === undefined ? {} : { maxCachedBytes: options.maxCachedBytes });
}
