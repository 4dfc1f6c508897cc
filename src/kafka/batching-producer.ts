import type { Message, Producer } from 'kafkajs';
import { RetryableError, findRagsyncError } from '../core/errors.js';
import { classifyKafkaError } from './kafka-errors.js';

/**
 * A record ready for Kafka: full topic name, key, encoded value (null = tombstone), headers. Keys
 * and header values are UTF-8 text, given as strings or as their bytes (records unpacked on a
 * producer thread carry bytes: see packRecords).
 */
export interface OutgoingRecord {
  topic: string;
  key: string | Buffer;
  value: Buffer | null;
  headers: Record<string, string | Buffer>;
}

/**
 * Bytes of a v2 record batch header (base offset, length, epoch, magic, CRC, attributes, offsets,
 * timestamps, producer id/epoch, base sequence, count). Kafka checks a whole batch against the
 * topic's `max.message.bytes`.
 */
export const RECORD_BATCH_OVERHEAD = 61;

/**
 * Bytes `record` takes inside a record batch, with every varint at its largest: length, attributes,
 * timestamp and offset deltas, key and value with their lengths, each header with its lengths.
 * Alone in a batch it takes this plus {@link RECORD_BATCH_OVERHEAD}.
 */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = 5 + 1 + 10 + 5 + 5 + Buffer.byteLength(record.key, 'utf8') + 5 + (record.value?.length ?? 0) + 5;
  const headers = record.headers;
  for (const name of Object.keys(headers)) bytes += 10 + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(headers[name]!, 'utf8');
  return bytes;
}

/**
 * The one produce request at a time that BatchingProducer needs from a Kafka client: connect,
 * send records (acks=all; resolves once Kafka acknowledged every one, rejects otherwise), and
 * disconnect. `kafkajsRecordProducer` adapts a kafkajs producer; src/kafka/platformatic-producer.ts
 * is one over @platformatic/kafka. Records must land on the partition kafkajs' default (Java
 * murmur2) partitioner picks for their key. A rejection may be the client's own error:
 * BatchingProducer classifies it with classifyKafkaError.
 */
export interface RecordProducer {
  connect(): Promise<void>;
  sendRecords(records: OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A kafkajs producer as a RecordProducer (acks=all, one record batch per partition of a request). */
export function kafkajsRecordProducer(producer: Producer): RecordProducer {
  return {
    connect: () => producer.connect(),
    sendRecords: async (records) => {
      await producer.sendBatch({ acks: -1, topicMessages: toTopicMessages(records) });
    },
    disconnect: () => producer.disconnect(),
  };
}

const isRecordProducer = (producer: Producer | RecordProducer): producer is RecordProducer => typeof (producer as Partial<RecordProducer>).sendRecords === 'function';

/** Sends records and resolves once Kafka acknowledged all of them: a BatchingProducer, or a ProducerThread running one. */
export interface RecordSender {
  send(records: OutgoingRecord[], timeoutMs: number): Promise<void>;
  close(timeoutMs: number): Promise<void>;
  /**
   * Connects now, within `timeoutMs`, so that the first `send` finds the producer connected. A
   * failure is not reported: the first `send` connects again and fails as it would have.
   */
  warmUp?(timeoutMs: number): void;
}

export interface BatchingOptions {
  /** Records waiting or in flight at most; a send beyond it waits for room until its deadline. @defaultValue 10000 */
  maxBufferedRecords?: number;
  /**
   * Records per produce request at most. kafkajs spends a good part of a request's time on the
   * request itself (metadata, one record batch per partition, the round trip), so larger requests
   * publish more records per CPU second; `maxRequestBytes` still bounds them. @defaultValue 2000
   */
  maxBatchRecords?: number;
  /**
   * Bytes per produce request at most, batch header included: the topics' `max.message.bytes`.
   * kafkajs puts all records of a request that go to one partition into one record batch, and Kafka
   * refuses a batch over the limit even when each record is small. @defaultValue 4 MiB
   */
  maxRequestBytes?: number;
  /** How long the first record of a batch waits for company. @defaultValue 2 */
  lingerMs?: number;
  /** Told when a producer was replaced after a failed send (for the log). */
  onProducerReplaced?: (cause: Error) => void;
}

interface Pending {
  records: OutgoingRecord[];
  bytes: number;
  resolve(): void;
  reject(error: Error): void;
}

/** A deadline that does not keep the process alive once everything else is done. */
const timeLimit = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** How long a replacement producer may take to connect before its records are refused (as retryable). */
const RECONNECT_TIMEOUT_MS = 30_000;

/**
 * Batches records of concurrent callers into few produce requests, in call order, over one
 * idempotent producer (acks=all): a kafkajs one, or any RecordProducer (PlatformaticRecordProducer).
 * `send` resolves only after Kafka acknowledged every record of the call, and rejects with a RetryableError (`kafka_ack_timeout`) when that did not happen within the
 * caller's deadline; the records stay queued and may still land later (harmless: the version guard
 * absorbs a resend). The buffer is bounded, so a dead cluster cannot grow memory without limit.
 *
 * Two things keep one caller's failure from becoming another's:
 * - After any failed produce request the producer is replaced before the next one. kafkajs rolls
 *   the idempotent sequence numbers of every partition of a failed request back, also of the
 *   partitions Kafka had appended to (kafkajs issue 598): the next records to those partitions then
 *   reuse sequence numbers, and Kafka acknowledges them as duplicates without writing them, or
 *   answers "out of order sequence number" until restart. @platformatic/kafka keeps the numbers of
 *   the partitions that answered, but cannot know whether a request that timed out was appended.
 *   A new producer has a new producer id.
 * - When Kafka refuses a record of a combined request (a permanent, record-specific error), every
 *   caller of that request is sent again on its own, so each gets its own outcome. A caller gets a
 *   PermanentError only when none of its records can have been stored (it had one record); a
 *   refusal among several records of one caller is answered as retryable, since some may be stored.
 * Callers should not depend on the second: records are checked against `maxRequestBytes` before
 * they get here (KafkaChangeSink), so Kafka refuses one only when a topic's real
 * `max.message.bytes` is below the configured one.
 */
export class BatchingProducer implements RecordSender {
  private readonly queue: Pending[] = [];
  private buffered = 0;
  private flushing: Promise<void> | undefined;
  private producer: RecordProducer;
  private connecting: Promise<void> | undefined;
  private connected = false;
  private closed = false;
  /** Disconnects of replaced producers still under way; close() waits for them too. */
  private readonly retired = new Set<Promise<unknown>>();
  private roomWaiters: Array<() => void> = [];
  private readonly maxBuffered: number;
  private readonly maxBatch: number;
  private readonly maxRequestBytes: number;
  private readonly lingerMs: number;

  private readonly createProducer: () => RecordProducer;

  /**
   * `createProducer` makes a new client producer: a kafkajs one (idempotent, see
   * createIdempotentProducer) or any RecordProducer; it is called again after every failed request.
   */
  constructor(
    createProducer: () => Producer | RecordProducer,
    private readonly options: BatchingOptions = {},
  ) {
    this.createProducer = () => {
      const producer = createProducer();
      return isRecordProducer(producer) ? producer : kafkajsRecordProducer(producer);
    };
    this.producer = this.createProducer();
    this.maxBuffered = options.maxBufferedRecords ?? 10_000;
    this.maxBatch = options.maxBatchRecords ?? 2000;
    this.maxRequestBytes = options.maxRequestBytes ?? 4 * 1024 * 1024;
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
    const bytes = records.reduce((sum, r) => sum + recordBytes(r), 0);
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
      this.queue.push({ records, bytes, resolve: () => finish(), reject: finish });
      this.buffered += records.length;
      this.scheduleFlush();
    });
  }

  warmUp(timeoutMs: number): void {
    if (this.closed) return;
    this.connect(Date.now() + timeoutMs).catch(() => undefined);
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
    const disconnects = [...this.retired, this.connected || this.connecting ? this.producer.disconnect().catch(() => undefined) : Promise.resolve()];
    await Promise.race([Promise.all(disconnects), timeLimit(timeoutMs)]);
  }

  private async connect(deadline: number): Promise<void> {
    if (this.connected) return;
    const producer = this.producer;
    this.connecting ??= producer.connect().then(
      () => {
        if (this.producer === producer) this.connected = true;
      },
      (error: unknown) => {
        if (this.producer === producer) this.connecting = undefined;
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

  /** Retires the producer after a failed request; the next request connects a new one. */
  private replaceProducer(cause: Error): void {
    const old = this.producer;
    const disconnect = Promise.race([old.disconnect().catch(() => undefined), timeLimit(RECONNECT_TIMEOUT_MS)]);
    this.retired.add(disconnect);
    void disconnect.then(() => this.retired.delete(disconnect));
    this.producer = this.createProducer();
    this.connected = false;
    this.connecting = undefined;
    this.options.onProducerReplaced?.(cause);
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
      const group = this.takeGroup();
      try {
        if (group.length === 1) {
          await this.sendAlone(group[0]!);
          continue;
        }
        const error = await this.request(group.flatMap((p) => p.records));
        if (error === undefined) for (const pending of group) pending.resolve();
        else if (findRagsyncError(error)?.errorClass === 'permanent') {
          // One caller's record was refused: the others must not share its fate.
          for (const pending of group) await this.sendAlone(pending);
        } else for (const pending of group) pending.reject(error);
      } finally {
        this.buffered -= group.reduce((n, p) => n + p.records.length, 0);
        for (const wake of this.roomWaiters.splice(0)) wake();
      }
    }
  }

  /** Callers, in order, whose records fit one request (at least one caller). */
  private takeGroup(): Pending[] {
    const group: Pending[] = [this.queue.shift()!];
    let count = group[0]!.records.length;
    let bytes = RECORD_BATCH_OVERHEAD + group[0]!.bytes;
    while (this.queue.length > 0 && count + this.queue[0]!.records.length <= this.maxBatch && bytes + this.queue[0]!.bytes <= this.maxRequestBytes) {
      const next = this.queue.shift()!;
      group.push(next);
      count += next.records.length;
      bytes += next.bytes;
    }
    return group;
  }

  /** Sends one caller's records in requests that fit the limits, one after the other, and settles it. */
  private async sendAlone(pending: Pending): Promise<void> {
    for (const chunk of this.chunks(pending.records)) {
      const error = await this.request(chunk);
      if (error === undefined) continue;
      if (findRagsyncError(error)?.errorClass === 'permanent' && pending.records.length > 1) {
        pending.reject(
          new RetryableError(
            `Kafka refused a record of ${pending.records.length} that passed the size check, and may have stored others (${error.message}); check that topics.maxMessageBytes is not above the topics' max.message.bytes`,
            { code: 'kafka_refused_in_part', cause: error },
          ),
        );
      } else pending.reject(error);
      return;
    }
    pending.resolve();
  }

  private *chunks(records: OutgoingRecord[]): Generator<OutgoingRecord[]> {
    let chunk: OutgoingRecord[] = [];
    let bytes = RECORD_BATCH_OVERHEAD;
    for (const record of records) {
      const size = recordBytes(record);
      if (chunk.length > 0 && (chunk.length >= this.maxBatch || bytes + size > this.maxRequestBytes)) {
        yield chunk;
        chunk = [];
        bytes = RECORD_BATCH_OVERHEAD;
      }
      chunk.push(record);
      bytes += size;
    }
    if (chunk.length > 0) yield chunk;
  }

  /** One produce request; the classified error when it failed (the producer is then replaced). */
  private async request(records: OutgoingRecord[]): Promise<Error | undefined> {
    try {
      await this.connect(Date.now() + RECONNECT_TIMEOUT_MS);
    } catch (error) {
      return classifyKafkaError(error);
    }
    try {
      await this.producer.sendRecords(records);
      return undefined;
    } catch (error) {
      const classified = classifyKafkaError(error);
      this.replaceProducer(classified);
      return classified;
    }
  }
}

/**
 * kafkajs (2.2) copies every message while it encodes a request, as
 * `{ ...message, offsetDelta, timestampDelta }`. When the message already has those two keys, V8
 * copies it on its fast path; adding them to a copy costs about 2 µs per record, a tenth of what
 * kafkajs spends on one. kafkajs sets both itself, so the zeros given here are never sent.
 */
interface EncodableMessage extends Message {
  offsetDelta: number;
  timestampDelta: number;
}

function toTopicMessages(records: OutgoingRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (messages === undefined) {
      messages = [];
      byTopic.set(r.topic, messages);
    }
    const message: EncodableMessage = { key: r.key, value: r.value, headers: r.headers, offsetDelta: 0, timestampDelta: 0 };
    messages.push(message);
  }
  return [...byTopic.entries()].map(([topic, messages]) => ({ topic, messages }));
}
