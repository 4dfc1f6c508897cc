import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { PermanentError, RetryableError, SystemError, findRagsyncError } from '../core/errors.js';
import { BatchingProducer, type BatchingOptions, type OutgoingRecord, type RecordSender } from './batching-producer.js';
import { createIdempotentProducer, createKafka } from './client.js';
import type { PlatformaticProducerOptions } from './platformatic-producer.js';

/**
 * Which Kafka client the thread's BatchingProducer drives: @platformatic/kafka (the default; about
 * half kafkajs' CPU per record, see PlatformaticRecordProducer) or kafkajs, as the pipeline
 * workers use. Both are idempotent, acks=all, and put a key on the same partition.
 */
export type ProducerClient = 'platformatic' | 'kafkajs';

export interface ProducerThreadOptions extends Omit<BatchingOptions, 'onProducerReplaced'> {
  clientIdSuffix?: string;
  onProducerReplaced?: (cause: Error) => void;
  /** @defaultValue 'platformatic' */
  client?: ProducerClient;
  /** Compression of the produce requests (@platformatic/kafka only). @defaultValue 'none' */
  compression?: PlatformaticProducerOptions['compression'];
}

/**
 * A BatchingProducer on a worker thread of its own, for bulk publishing (`ragsync publish`, through
 * KafkaChangeSink's `producerThread` option). Building produce requests costs CPU (kafkajs: about as much per record as
 * reading, checking and encoding it; @platformatic/kafka about half of that), so a bulk publisher
 * that did both on one thread would use one core of the machine. Here the caller's thread checks
 * and encodes while this one sends. Everything BatchingProducer promises holds as it is: the thread
 * runs one, and `send` settles as that one's `send` does (errors keep their class, code and
 * message). Records cross as one transferred buffer per call.
 */
export class ProducerThread implements RecordSender {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private nextId = 0;
  /** Set when the thread failed or exited: every call is refused with it. */
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;

  constructor(config: Pick<Config, 'kafka'>, options: ProducerThreadOptions = {}) {
    const { onProducerReplaced, clientIdSuffix, client, compression, ...batching } = options;
    const entry = import.meta.url;
    const data: ThreadData = {
      role: THREAD_ROLE,
      entry,
      tsx: entry.endsWith('.ts') ? tsxApiUrl() : undefined,
      kafka: config.kafka,
      clientIdSuffix,
      client: client ?? 'platformatic',
      compression,
      batching,
      preload: (client ?? 'platformatic') === 'platformatic' ? [platformaticUrl()] : [],
    };
    this.worker = new Worker(BOOTSTRAP, { eval: true, workerData: data });
    // An idle thread does not keep the process alive; one with calls in flight does (see track).
    this.worker.unref();
    this.worker.on('message', (message: FromThread) => {
      if (message.type === 'done') {
        const call = this.waiting.get(message.id);
        this.waiting.delete(message.id);
        if (this.waiting.size === 0) this.worker.unref();
        if (message.error) call?.reject(reviveError(message.error));
        else call?.resolve();
      } else if (message.type === 'replaced') onProducerReplaced?.(reviveError(message.error));
      else if (message.type === 'closed') this.onClosed?.();
    });
    this.worker.on('error', (error) => this.fail(new RetryableError(`the Kafka producer thread failed: ${error.message}`, { code: 'kafka_producer_thread_failed', cause: error })));
    this.worker.on('exit', (code) => this.fail(new RetryableError(`the Kafka producer thread exited (code ${code})`, { code: 'kafka_producer_thread_failed' })));
  }

  send(records: OutgoingRecord[], timeoutMs: number): Promise<void> {
    if (this.closing) return Promise.reject(new RetryableError('the Kafka producer is closed', { code: 'kafka_producer_closed' }));
    if (this.broken) return Promise.reject(this.broken);
    if (records.length === 0) return Promise.resolve();
    const id = this.nextId++;
    const call = packRecords(records);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'send', id, timeoutMs, call } satisfies ToThread, [call.values]);
    });
  }

  /** Has the thread's producer connect now (BatchingProducer.warmUp), while the caller prepares its first call. */
  warmUp(timeoutMs: number): void {
    if (this.closing || this.broken) return;
    this.worker.postMessage({ type: 'warm-up', timeoutMs } satisfies ToThread);
  }

  /** Closes the thread's producer as BatchingProducer.close does, then ends the thread. */
  close(timeoutMs: number): Promise<void> {
    this.closing ??= (async () => {
      if (!this.broken) {
        const closed = new Promise<void>((resolve) => (this.onClosed = resolve));
        this.worker.ref();
        this.worker.postMessage({ type: 'close', timeoutMs } satisfies ToThread);
        // BatchingProducer.close never takes longer than twice its timeout.
        await Promise.race([closed, new Promise<void>((resolve) => setTimeout(resolve, 2 * timeoutMs + 1000).unref())]);
      }
      await this.worker.terminate();
    })();
    return this.closing;
  }

  private fail(error: Error): void {
    if (this.broken) return;
    this.broken = error;
    for (const call of this.waiting.values()) call.reject(error);
    this.waiting.clear();
    this.onClosed?.();
  }
}

const THREAD_ROLE = 'ragsync-producer-thread';

/**
 * Runs in the new thread. From the TypeScript sources (tsx, or a test runner) the thread loads
 * them through tsx's loader, as bin/ragsync.js does; a built package loads plain JavaScript.
 */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
(async () => {
  for (const url of workerData.preload) await import(url);
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();
`;

/**
 * The URL of @platformatic/kafka's entry. The thread loads it before tsx's loader is registered:
 * through the loader, each of its few hundred modules would cost a round trip to the loader's
 * thread (1–2 s of CPU in all); loaded first, the later import finds it loaded.
 */
function platformaticUrl(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('@platformatic/kafka')).href;
}

/** The URL of tsx's ESM API (`tsx/esm/api`), looked up in its package's exports. */
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('tsx/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  return pathToFileURL(join(dirname(manifestPath), manifest.exports['./esm/api']!.import.default)).href;
}

interface ThreadData {
  role: typeof THREAD_ROLE;
  entry: string;
  tsx: string | undefined;
  kafka: Config['kafka'];
  clientIdSuffix: string | undefined;
  client: ProducerClient;
  compression: PlatformaticProducerOptions['compression'];
  batching: Omit<BatchingOptions, 'onProducerReplaced'>;
  /** Modules the thread loads first, before any loader (file URLs). */
  preload: string[];
}

/** The records of one call: keys and header texts as strings, every value in one buffer. */
interface PackedCall {
  topics: string[];
  /** Index into `topics` per record. */
  topicOf: Uint16Array;
  keys: string[];
  /** Per record: the end of its value in `values`, or -1 for a tombstone. */
  valueEnds: Int32Array;
  values: ArrayBuffer;
  /** Per record: how many name/value pairs of `headers` are its own. */
  headerCounts: Uint16Array;
  headers: string[];
}

type ToThread = { type: 'send'; id: number; timeoutMs: number; call: PackedCall } | { type: 'warm-up'; timeoutMs: number } | { type: 'close'; timeoutMs: number };
type FromThread = { type: 'done'; id: number; error?: SentError } | { type: 'replaced'; error: SentError } | { type: 'closed' };

interface SentError {
  errorClass: 'retryable' | 'permanent' | 'system' | undefined;
  code: string | undefined;
  message: string;
  retryAfterMs: number | undefined;
}

export function packRecords(records: readonly OutgoingRecord[]): PackedCall {
  const topics: string[] = [];
  const topicOf = new Uint16Array(records.length);
  const keys: string[] = new Array<string>(records.length);
  const valueEnds = new Int32Array(records.length);
  const headerCounts = new Uint16Array(records.length);
  const headers: string[] = [];
  let size = 0;
  for (const record of records) size += record.value?.length ?? 0;
  // Not from Buffer's shared pool: the buffer is handed over to the thread.
  const values = new ArrayBuffer(size);
  const bytes = new Uint8Array(values);
  let end = 0;
  let lastTopic = -1;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    if (lastTopic < 0 || topics[lastTopic] !== record.topic) {
      lastTopic = topics.indexOf(record.topic);
      if (lastTopic < 0) lastTopic = topics.push(record.topic) - 1;
    }
    topicOf[i] = lastTopic;
    keys[i] = record.key;
    if (record.value === null) valueEnds[i] = -1;
    else {
      bytes.set(record.value, end);
      end += record.value.length;
      valueEnds[i] = end;
    }
    let count = 0;
    for (const name of Object.keys(record.headers)) {
      headers.push(name, record.headers[name]!);
      count += 1;
    }
    headerCounts[i] = count;
  }
  return { topics, topicOf, keys, valueEnds, values, headerCounts, headers };
}

export function unpackRecords(call: PackedCall): OutgoingRecord[] {
  const values = Buffer.from(call.values);
  const records: OutgoingRecord[] = new Array<OutgoingRecord>(call.keys.length);
  let start = 0;
  let h = 0;
  for (let i = 0; i < call.keys.length; i++) {
    const end = call.valueEnds[i]!;
    const headers: Record<string, string> = {};
    for (let n = call.headerCounts[i]!; n > 0; n--, h += 2) headers[call.headers[h]!] = call.headers[h + 1]!;
    records[i] = { topic: call.topics[call.topicOf[i]!]!, key: call.keys[i]!, value: end < 0 ? null : values.subarray(start, end), headers };
    if (end >= 0) start = end;
  }
  return records;
}

function sendable(error: unknown): SentError {
  const ragsync = findRagsyncError(error);
  return {
    errorClass: ragsync?.errorClass,
    code: ragsync?.code,
    message: error instanceof Error ? error.message : String(error),
    retryAfterMs: ragsync instanceof RetryableError ? ragsync.retryAfterMs : undefined,
  };
}

function reviveError(sent: SentError): Error {
  const code = sent.code ?? 'kafka_error';
  if (sent.errorClass === 'retryable') return new RetryableError(sent.message, { code, ...(sent.retryAfterMs === undefined ? {} : { retryAfterMs: sent.retryAfterMs }) });
  if (sent.errorClass === 'permanent') return new PermanentError(sent.message, { code });
  if (sent.errorClass === 'system') return new SystemError(sent.message, { code });
  return new Error(sent.message);
}

/**
 * The thread's side: one BatchingProducer, fed by the calls posted to it. @platformatic/kafka is
 * loaded here only (it compiles its option schemas when loaded, 0.3–0.6 s of CPU the caller's
 * thread need not spend, see BOOTSTRAP); calls posted meanwhile wait in the port.
 */
async function runThread(data: ThreadData, port: NonNullable<typeof parentPort>): Promise<void> {
  const config = { kafka: data.kafka };
  const suffix = data.clientIdSuffix === undefined ? {} : { clientIdSuffix: data.clientIdSuffix };
  let createProducer: ConstructorParameters<typeof BatchingProducer>[0];
  if (data.client === 'kafkajs') {
    const kafka = createKafka(config, suffix);
    createProducer = () => createIdempotentProducer(kafka);
  } else {
    const { createPlatformaticProducer } = await import('./platformatic-producer.js');
    const options = { ...suffix, ...(data.compression === undefined ? {} : { compression: data.compression }) };
    createProducer = () => createPlatformaticProducer(config, options);
  }
  const post = (message: FromThread) => port.postMessage(message);
  const sender = new BatchingProducer(createProducer, {
    ...data.batching,
    onProducerReplaced: (cause) => post({ type: 'replaced', error: sendable(cause) }),
  });
  port.on('message', (message: ToThread) => {
    if (message.type === 'send') {
      sender.send(unpackRecords(message.call), message.timeoutMs).then(
        () => post({ type: 'done', id: message.id }),
        (error: unknown) => post({ type: 'done', id: message.id, error: sendable(error) }),
      );
    } else if (message.type === 'warm-up') sender.warmUp(message.timeoutMs);
    else void sender.close(message.timeoutMs).finally(() => post({ type: 'closed' }));
  });
}

if (!isMainThread && parentPort && (workerData as Partial<ThreadData> | null)?.role === THREAD_ROLE) {
  // A failure to start is unhandled: it ends the thread with an 'error' event, and the caller's
  // side refuses every call with it.
  void runThread(workerData as ThreadData, parentPort);
}
