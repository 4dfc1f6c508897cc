import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/index.js';
import { PermanentError, RetryableError, SystemError, findRagsyncError } from '../core/errors.js';
import { BatchingProducer, type BatchingOptions, type OutgoingRecord, type RecordSender } from './batching-producer.js';
import type * as PlatformaticModule from './platformatic-producer.js';
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
 * message). Records cross packed into buffers that are handed over, not copied (PackedRecords).
 */
export class ProducerThread implements RecordSender {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve(): void; reject(error: Error): void }>();
  private nextId = 0;
  /** Set when the thread failed or exited: every call is refused with it. */
  private broken: Error | undefined;
  private closing: Promise<void> | undefined;
  private onClosed: (() => void) | undefined;

  /**
   * Starts a thread for the next ProducerThread of the default client now, before its
   * configuration is known: loading the client takes most of a second of CPU, which a command
   * producing in bulk can spend while it loads itself (src/cli/main.ts). The thread waits for the
   * ProducerThread that takes it over; one never taken over does not keep the process alive.
   * Returns the thread's id.
   */
  static prestart(): number {
    prestarted ??= spawnThread('platformatic');
    return prestarted.worker.threadId;
  }

  /** The id of the thread the producer runs on. */
  get threadId(): number {
    return this.worker.threadId;
  }

  constructor(config: Pick<Config, 'kafka'>, options: ProducerThreadOptions = {}) {
    const { onProducerReplaced, clientIdSuffix, client = 'platformatic', compression, ...batching } = options;
    let thread = prestarted;
    prestarted = undefined;
    if (thread !== undefined && (client !== 'platformatic' || thread.failed || thread.worker.threadId === -1)) {
      void thread.worker.terminate();
      thread = undefined;
    }
    this.worker = (thread ?? spawnThread(client)).worker;
    this.worker.postMessage({ type: 'init', kafka: config.kafka, clientIdSuffix, client, compression, batching } satisfies ToThread);
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
    return this.sendPacked(records.length === 0 ? [] : [packRecords(records)], timeoutMs);
  }

  /**
   * `send` for records packed beforehand (packRecords), as one call acknowledged as a whole. The
   * parts' buffers are handed over to the thread: a part can be sent once.
   */
  sendPacked(parts: readonly PackedRecords[], timeoutMs: number): Promise<void> {
    if (this.closing) return Promise.reject(new RetryableError('the Kafka producer is closed', { code: 'kafka_producer_closed' }));
    if (this.broken) return Promise.reject(this.broken);
    if (parts.every((part) => part.count === 0)) return Promise.resolve();
    // A part sent before has handed its buffers over: here they are empty (detached), and Node
    // would post them as they are.
    if (parts.some((part) => part.count > 0 && part.layout.length === 0)) {
      return Promise.reject(new SystemError('records packed for the producer thread were sent before: a packed part can be sent once', { code: 'kafka_packed_resent' }));
    }
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ type: 'send', id, timeoutMs, parts } satisfies ToThread, parts.flatMap((part) => [part.bytes, part.layout.buffer as ArrayBuffer]));
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

/** A thread started, and whether it failed before a ProducerThread took it over. */
interface Spawned {
  worker: Worker;
  failed: boolean;
}

/** The thread ProducerThread.prestart started, until a ProducerThread takes it over. */
let prestarted: Spawned | undefined;

function spawnThread(client: ProducerClient): Spawned {
  const entry = import.meta.url;
  const data: ThreadData = {
    role: THREAD_ROLE,
    entry,
    tsx: entry.endsWith('.ts') ? tsxApiUrl() : undefined,
    preload: client === 'platformatic' ? [platformaticUrl()] : [],
  };
  const spawned: Spawned = { worker: new Worker(BOOTSTRAP, { eval: true, workerData: data }), failed: false };
  // An idle thread does not keep the process alive; one with calls in flight does (ProducerThread).
  spawned.worker.unref();
  // Until a ProducerThread listens (a prestarted thread may fail first), a failure is noted, not thrown.
  spawned.worker.on('error', () => (spawned.failed = true));
  return spawned;
}

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
  /** Modules the thread loads first, before any loader (file URLs). */
  preload: string[];
}

/** What the thread's producer is made with: the first message a ProducerThread posts to it. */
interface ThreadInit {
  type: 'init';
  kafka: Config['kafka'];
  clientIdSuffix: string | undefined;
  client: ProducerClient;
  compression: PlatformaticProducerOptions['compression'];
  batching: Omit<BatchingOptions, 'onProducerReplaced'>;
}

/**
 * Records packed to cross to the thread: every key, value and header value as UTF-8 bytes in one
 * buffer, and their lengths in another, both handed over rather than copied. Neither thread keeps
 * an object or a string per record while the records wait for their turn: the caller packs a few
 * hundred records as soon as they are encoded (KafkaChangeSink.encode), so what it holds of them
 * until they are sent are two buffers, and the thread gives the client views of the bytes instead
 * of encoding every key and header again.
 */
export interface PackedRecords {
  count: number;
  topics: string[];
  /** Header names, each once. */
  names: string[];
  /**
   * Per record: the index of its topic in `topics`, the bytes of its key, of its value (-1 for a
   * tombstone) and its number of headers, then per header the index of its name in `names` and the
   * bytes of its value.
   */
  layout: Int32Array;
  /** Per record: its key, its value, its headers' values, one after the other. */
  bytes: ArrayBuffer;
}

type ToThread = ThreadInit | { type: 'send'; id: number; timeoutMs: number; parts: readonly PackedRecords[] } | { type: 'warm-up'; timeoutMs: number } | { type: 'close'; timeoutMs: number };
type FromThread = { type: 'done'; id: number; error?: SentError } | { type: 'replaced'; error: SentError } | { type: 'closed' };

interface SentError {
  errorClass: 'retryable' | 'permanent' | 'system' | undefined;
  code: string | undefined;
  message: string;
  retryAfterMs: number | undefined;
}

const utf8Length = (text: string | Buffer): number => (typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length);

/** Packs records for ProducerThread.sendPacked (see PackedRecords). */
export function packRecords(records: readonly OutgoingRecord[]): PackedRecords {
  const topics: string[] = [];
  const names: string[] = [];
  let ints = 0;
  let size = 0;
  for (const record of records) {
    size += utf8Length(record.key) + (record.value?.length ?? 0);
    ints += 4;
    const headers = record.headers;
    for (const name of Object.keys(headers)) {
      size += utf8Length(headers[name]!);
      ints += 2;
    }
  }
  // Not from Buffer's shared pool: the buffers are handed over to the thread.
  const bytes = Buffer.from(new ArrayBuffer(size));
  const layout = new Int32Array(ints);
  let at = 0;
  let i = 0;
  const put = (text: string | Buffer): number => {
    const length = typeof text === 'string' ? bytes.write(text, at, 'utf8') : (bytes.set(text, at), text.length);
    at += length;
    return length;
  };
  let lastTopic = -1;
  for (const record of records) {
    if (lastTopic < 0 || topics[lastTopic] !== record.topic) {
      lastTopic = topics.indexOf(record.topic);
      if (lastTopic < 0) lastTopic = topics.push(record.topic) - 1;
    }
    layout[i++] = lastTopic;
    layout[i++] = put(record.key);
    layout[i++] = record.value === null ? -1 : put(record.value);
    const headers = record.headers;
    const own = Object.keys(headers);
    layout[i++] = own.length;
    for (const name of own) {
      let index = names.indexOf(name);
      if (index < 0) index = names.push(name) - 1;
      layout[i++] = index;
      layout[i++] = put(headers[name]!);
    }
  }
  return { count: records.length, topics, names, layout, bytes: bytes.buffer as ArrayBuffer };
}

/** The records of a part, appended to `into`: keys, values and header values are views of its bytes. */
export function unpackRecords(part: PackedRecords, into: OutgoingRecord[] = []): OutgoingRecord[] {
  const bytes = Buffer.from(part.bytes);
  const layout = part.layout;
  let at = 0;
  let i = 0;
  const take = (length: number): Buffer => bytes.subarray(at, (at += length));
  for (let n = 0; n < part.count; n++) {
    const topic = part.topics[layout[i++]!]!;
    const key = take(layout[i++]!);
    const valueLength = layout[i++]!;
    const value = valueLength < 0 ? null : take(valueLength);
    const headers: Record<string, Buffer> = {};
    for (let h = layout[i++]!; h > 0; h--) {
      const name = part.names[layout[i++]!]!;
      headers[name] = take(layout[i++]!);
    }
    into.push({ topic, key, value, headers });
  }
  return into;
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
 * The thread's side: one BatchingProducer, made when the ProducerThread's `init` arrives and fed
 * by the calls posted after it, in order. @platformatic/kafka is loaded here only (it compiles its
 * option schemas when loaded, 0.3–0.6 s of CPU the caller's thread need not spend, see BOOTSTRAP),
 * before `init` arrives when the thread was started ahead (ProducerThread.prestart).
 */
function runThread(data: ThreadData, port: NonNullable<typeof parentPort>): void {
  const platformatic = data.preload.length > 0 ? import('./platformatic-producer.js') : undefined;
  const post = (message: FromThread) => port.postMessage(message);
  let ready: Promise<BatchingProducer> | undefined;
  port.on('message', (message: ToThread) => {
    if (message.type === 'init') {
      ready = startSender(message, platformatic, post);
      return;
    }
    // A failure to start is left unhandled: it ends the thread with an 'error' event, and the
    // caller's side refuses every call with it.
    void ready!.then((sender) => {
      if (message.type === 'send') {
        const records: OutgoingRecord[] = [];
        for (const part of message.parts) unpackRecords(part, records);
        sender.send(records, message.timeoutMs).then(
          () => post({ type: 'done', id: message.id }),
          (error: unknown) => post({ type: 'done', id: message.id, error: sendable(error) }),
        );
      } else if (message.type === 'warm-up') sender.warmUp(message.timeoutMs);
      else void sender.close(message.timeoutMs).finally(() => post({ type: 'closed' }));
    });
  });
}

async function startSender(init: ThreadInit, platformatic: Promise<typeof PlatformaticModule> | undefined, post: (message: FromThread) => void): Promise<BatchingProducer> {
  const config = { kafka: init.kafka };
  const suffix = init.clientIdSuffix === undefined ? {} : { clientIdSuffix: init.clientIdSuffix };
  let createProducer: ConstructorParameters<typeof BatchingProducer>[0];
  if (init.client === 'kafkajs') {
    // Loaded only here: a thread of the default client does not load kafkajs at all.
    const { createIdempotentProducer, createKafka } = await import('./client.js');
    const kafka = createKafka(config, suffix);
    createProducer = () => createIdempotentProducer(kafka);
  } else {
    const { createPlatformaticProducer } = await (platformatic ?? import('./platformatic-producer.js'));
    const options = { ...suffix, ...(init.compression === undefined ? {} : { compression: init.compression }) };
    createProducer = () => createPlatformaticProducer(config, options);
  }
  return new BatchingProducer(createProducer, {
    ...init.batching,
    onProducerReplaced: (cause) => post({ type: 'replaced', error: sendable(cause) }),
  });
}

if (!isMainThread && parentPort && (workerData as Partial<ThreadData> | null)?.role === THREAD_ROLE) {
  runThread(workerData as ThreadData, parentPort);
}
