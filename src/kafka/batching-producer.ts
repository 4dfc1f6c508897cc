import type { Message, Producer } from 'kafkajs';
import { RetryableError } from '../core/errors.js';
import { classifyKafkaError } from './kafka-errors.js';

/** A record ready for Kafka: full topic name, UTF-8 key, encoded value (null = tombstone). */
export interface OutgoingRecord {
  topic: string;
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface BatchingOptions {
  /** Records waiting or in flight at most; a send beyond it waits for room until its deadline. @defaultValue 10000 */
  maxBufferedRecords?: number;
  /** Records per produce request at most. @defaultValue 500 */
  maxBatchRecords?: number;
  /** How long the first record of a batch waits for company. @defaultValue 2 */
  lingerMs?: number;
}

interface Pending {
  records: OutgoingRecord[];
  resolve(): void;
  reject(error: Error): void;
}


/** A deadline that does not keep the process alive once everything else is done. */
const timeLimit = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Batches records of concurrent callers into few produce requests, in call order, over one
 * idempotent producer (acks=all). `send` resolves only after Kafka acknowledged every record of the
 * call, and rejects with a RetryableError (`kafka_ack_timeout`) when that did not happen within the
 * caller's deadline; the records stay queued and may still land later (harmless: the version guard
 * absorbs a resend). The buffer is bounded, so a dead cluster cannot grow memory without limit.
 */
export class BatchingProducer {
  private readonly queue: Pending[] = [];
  private buffered = 0;
  private flushing: Promise<void> | undefined;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private closed = false;
  private roomWaiters: Array<() => void> = [];
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly lingerMs: number;

  constructor(
    private readonly producer: Producer,
    options: BatchingOptions = {},
  ) {
    this.maxBuffered = options.maxBufferedRecords ?? 10_000;
    this.maxBatch = options.maxBatchRecords ?? 500;
    this.lingerMs = options.lingerMs ?? 2;
  }

  async send(records: OutgoingRecord[], timeoutMs: number): Promise<void> {
    if (this.closed) throw new RetryableError('the Kafka producer is closed', { code: 'kafka_producer_closed' });
    if (records.length === 0) return;
    const deadline = Date.now() + timeoutMs;
    await this.connect(deadline);
    while (this.buffered > 0 && this.buffered + records.length > this.maxBuffered) {
      if (!(await this.waitForRoom(deadline))) {
        throw new RetryableError(`Kafka producer buffer full (${this.buffered} records waiting for acknowledgement)`, { code: 'kafka_buffer_full' });
      }
    }
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new RetryableError(`Kafka did not acknowledge ${records.length} record(s) within ${timeoutMs} ms`, { code: 'kafka_ack_timeout' })),
        Math.max(0, deadline - Date.now()),
      );
      this.queue.push({ records, resolve: () => finish(), reject: finish });
      this.buffered += records.length;
      this.scheduleFlush();
    });
  }

  /**
   * Stops accepting records, gives queued ones up to `timeoutMs` to be acknowledged, rejects the
   * rest, and disconnects. Never waits longer than twice `timeoutMs`, even when kafkajs is still
   * retrying a send in the background.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.flushing) await Promise.race([this.flushing, timeLimit(timeoutMs)]);
    for (const pending of this.queue.splice(0)) {
      pending.reject(new RetryableError('the Kafka producer closed before the records were acknowledged', { code: 'kafka_producer_closed' }));
    }
    if (this.connected || this.connecting) {
      await Promise.race([this.producer.disconnect().catch(() => undefined), timeLimit(timeoutMs)]);
    }
  }

  private async connect(deadline: number): Promise<void> {
    if (this.connected) return;
    this.connecting ??= this.producer.connect().then(
      () => {
        this.connected = true;
      },
      (error: unknown) => {
        this.connecting = undefined;
        throw classifyKafkaError(error);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        // The same code as a missing acknowledgement: for the caller both mean "not acknowledged in time".
        () => reject(new RetryableError('Kafka could not be reached before the acknowledgement deadline', { code: 'kafka_ack_timeout' })),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      await Promise.race([this.connecting, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitForRoom(deadline: number): Promise<boolean> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return false;
    let waiter: () => void = () => undefined;
    const room = new Promise<boolean>((resolve) => {
      waiter = () => resolve(true);
      this.roomWaiters.push(waiter);
    });
    const result = await Promise.race([room, timeLimit(remaining).then(() => false)]);
    this.roomWaiters = this.roomWaiters.filter((w) => w !== waiter);
    return result;
  }

  private scheduleFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.closed) this.scheduleFlush();
    });
  }

  private async flush(): Promise<void> {
    if (this.lingerMs > 0) await new Promise<void>((resolve) => setTimeout(resolve, this.lingerMs));
    while (this.queue.length > 0) {
      const batch: Pending[] = [this.queue.shift()!];
      let count = batch[0]!.records.length;
      while (this.queue.length > 0 && count + this.queue[0]!.records.length <= this.maxBatch) {
        const next = this.queue.shift()!;
        batch.push(next);
        count += next.records.length;
      }
      try {
        await this.producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(batch.flatMap((p) => p.records)) });
        for (const pending of batch) pending.resolve();
      } catch (error) {
        const classified = classifyKafkaError(error);
        for (const pending of batch) pending.reject(classified);
      } finally {
        this.buffered -= count;
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
    }
  }
}

function toTopicMessages(records: OutgoingRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    const messages = byTopic.get(r.topic) ?? [];
    messages.push({ key: r.key, value: r.value, headers: r.headers });
    byTopic.set(r.topic, messages);
  }
  return [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages }));
}
