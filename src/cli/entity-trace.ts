import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import { ShopwareClient } from '../connectors/shopware/client.js';
import { WooClient } from '../connectors/woocommerce/client.js';
import { ASPECT_TYPES } from '../core/entities.js';
import { describeError } from '../core/errors.js';
import { formatKey, parseKey, type EntityKey } from '../core/keys.js';
import { HEADERS } from '../core/records.js';
import { enabledStages, retryGroupOf, type StageDeclaration } from '../core/stages.js';
import { withAdmin } from '../kafka/admin.js';
import { headersToStrings } from '../kafka/dlq.js';
import { DlqMarks, type MarkIndex } from '../kafka/dlq-marks.js';
import { DlqReader, readWindows, type DeadRecord } from '../kafka/dlq-reader.js';
import { partitionOf } from '../kafka/dlq-replay.js';
import { retryDueTopicName, retryTopicName } from '../kafka/topic-catalogue.js';
import { DeleteVersions } from '../sinks/shopware/deletes.js';
import { lookupKeyProduct } from '../sinks/shopware/lookup.js';
import { IdMap } from '../sinks/woocommerce/id-map.js';
import { storedVersions } from '../sinks/woocommerce/payload.js';
import { findKeyProduct } from '../sinks/woocommerce/shop-lookup.js';
import type { createKafka } from '../kafka/client.js';
import type { VectorStore } from '../stores/index.js';

type Kafka = ReturnType<typeof createKafka>;
/** A record as Kafka hands it over. */
type KafkaMessage = Parameters<Parameters<typeof readWindows>[3]>[1][number];

/**
 * `ragsync status <key>`: one entity traced through the pipeline (docs/operations.md, "Tracing one
 * entity"). For each topic the key travels through, the newest record of the key on the partition
 * it maps to (read from the start to the end offset captured at the start), and whether each
 * consumer group of that topic has committed past it; the document's head in the vector store; the
 * versions each push target of the key's tenant holds; the key's dead-lettered records; and a
 * one-line verdict of where a change got stuck. Reads only: nothing is committed or written.
 */

/** A key on the command line that is not `tenant/entity_type/entity_id/store_id`: a usage error. */
export class TraceUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TraceUsageError';
  }
}

/** The key as records carry it (percent-encoded parts), from what a user typed or copied from a log. */
export function canonicalKey(text: string): { key: string; entity: EntityKey } {
  try {
    const entity = parseKey(text.trim());
    return { key: formatKey(entity), entity };
  } catch (error) {
    throw new TraceUsageError(describeError(error).replace(/\s+/g, ' '));
  }
}

export type TopicRole = 'change' | 'aspect' | 'documents' | 'chunks' | 'vectors' | 'retry' | 'due';

/** The newest record of the key on one topic partition. */
export interface RecordView {
  offset: string;
  /** `source_version` from the record's headers (or its value), decimal; null when it has none. */
  version: string | null;
  /** Epoch ms at the source, ISO 8601. */
  occurredAt: string | null;
  /** When Kafka took it (the record's timestamp), ISO 8601. */
  timestamp: string;
  tombstone: boolean;
  /** chunks and vectors: how many chunks the set holds. */
  chunks?: number;
  /** Retry tiers: when it is due, its attempt and why it failed. */
  retry?: { tier: number | null; dueAt: string | null; attempt: number | null; errorCode: string | null; errorMessage: string | null };
}

/** Whether one consumer group has committed past the key's newest record. */
export interface GroupView {
  /** The stage (or `<stage>.retry` for a retry consumer). */
  stage: string;
  group: string;
  /** The committed offset on the partition: the next record the group will read; null when it never committed. */
  committed: string | null;
  /** Records of the partition the group has not committed (end − committed). */
  lag: number;
  /** `processed`: committed past the record; `waiting`: not yet, with `ahead` records before it. */
  state: 'processed' | 'waiting' | 'no-record';
  ahead?: number;
}

export interface TopicView {
  /** Logical name (without prefix). */
  topic: string;
  /** Kafka topic name. */
  name: string;
  role: TopicRole;
  /** For retry and due topics: the terminal group that owns them. */
  owner?: string;
  exists: boolean;
  partition?: number;
  /** Offsets of the partition read: [low, high) captured at the start. */
  low?: string;
  high?: string;
  /** Records read, and whether the read reached `high` within the time bound. */
  read: number;
  complete: boolean;
  /** Records of the key among those read. */
  matches: number;
  newest?: RecordView;
  groups: GroupView[];
  problem?: string;
}

export interface StoreView {
  description: string;
  /** The document's head: its version and whether it is a delete marker; undefined when the store has none. */
  head?: { version: string; deleted: boolean; deletedAt: string | null; aspects: Record<string, string> };
  points: number;
  /** The distinct `source_version`s of the points. */
  pointVersions: string[];
  problem?: string;
}

export interface ShopView {
  kind: 'shopware' | 'woocommerce';
  host: string;
  /** Why the shop is not asked (the key is not for it). */
  skipped?: string;
  found: boolean;
  /** The shop's product id (WooCommerce: `parent/id` for a variation). */
  id?: string;
  /** Versions the shop holds per class (decimal), from its custom fields / meta data. */
  versions: { product?: string; price?: string; stock?: string };
  /** The version of the delete the shop acknowledged, from Redis. */
  deleteVersion?: string;
  problem?: string;
}

export interface DeadView {
  ref: string;
  group: string;
  deadLetteredAt: string;
  version: string | null;
  errorClass: string | null;
  errorCode: string;
  errorMessage: string | null;
  attempt: number | null;
  original: { topic: string; partition: number; offset: string } | null;
  replayed: { at: string; to: string | null } | null;
}

export interface EntityTrace {
  key: string;
  entity: EntityKey;
  topicPrefix: string;
  groupPrefix: string;
  topics: TopicView[];
  store?: StoreView;
  shops: ShopView[];
  /** DLQ topics read (logical names) and the key's records in them. */
  dlq: { topics: string[]; records: DeadView[]; problems: string[] };
  verdict: string;
  /** Every check behind the verdict that found a difference, in pipeline order. */
  findings: string[];
}

export interface TraceDeps {
  /** Opened and connected by the caller; omit to leave the store out. */
  store?: VectorStore;
  storeDescription?: string;
  /** Why the store could not be opened: reported instead of its document (and no "in sync"). */
  storeProblem?: string;
  /** Where the shops' delete versions and WooCommerce's id mapping live; omit to leave them out. */
  redis?: Redis;
  /** Decodes a value of a topic (Kafka topic name) through the registry. */
  decode?: (topic: string, bytes: Buffer) => Promise<unknown>;
  /** Masks secrets in text read from records (error messages). */
  scrub?: (text: string) => string;
  fetch?: typeof fetch;
}

export interface TraceOptions {
  /** Every read together stops after this long and says how far it got. @defaultValue 120000 */
  timeoutMs?: number;
  /** Reads of more records than this report their progress. @defaultValue 20000 */
  progressAbove?: number;
  onProgress?: (what: string, read: number, total: number) => void;
  /** Topic partitions read at once. @defaultValue 4 */
  concurrency?: number;
}

interface Hop {
  topic: string;
  role: TopicRole;
  owner?: string;
  /** Who reads it: stage name and group suffix. */
  readers: Array<{ stage: string; group: string }>;
}

/** The topics `key` travels through, and which enabled groups read each, in pipeline order. */
export function hopsOf(entity: EntityKey, config: Pick<Config, 'topics' | 'tenants'>): Hop[] {
  const stages = enabledStages(config.tenants);
  const readersOf = (topic: string) => stages.filter((s) => s.inputs.includes(topic)).map((s) => ({ stage: s.name, group: s.group }));
  const main: Hop[] = [{ topic: `changes.${entity.entityType}`, role: 'change', readers: [] }];
  if (entity.entityType === 'product') for (const aspect of ASPECT_TYPES) main.push({ topic: `changes.${aspect}`, role: 'aspect', readers: [] });
  main.push({ topic: 'documents', role: 'documents', readers: [] }, { topic: 'chunks', role: 'chunks', readers: [] }, { topic: 'vectors', role: 'vectors', readers: [] });
  for (const hop of main) hop.readers = readersOf(hop.topic);
  const names = new Set(main.map((h) => h.topic));
  const terminal = stages.filter((s): s is StageDeclaration => s.terminal && s.inputs.some((input) => names.has(input)));
  const retry: Hop[] = terminal.flatMap((s) => [
    ...config.topics.retryDelaysMs.map((delay): Hop => ({ topic: retryTopicName(s.group, delay), role: 'retry', owner: s.group, readers: [{ stage: `${s.name}.retry`, group: retryGroupOf(s.group) }] })),
    { topic: retryDueTopicName(s.group), role: 'due', owner: s.group, readers: [{ stage: s.name, group: s.group }] },
  ]);
  return [...main, ...retry];
}

class Deadline {
  readonly at: number;
  constructor(ms: number) {
    this.at = Date.now() + ms;
  }
  get left(): number {
    return Math.max(0, this.at - Date.now());
  }
}

class OutOfTime extends Error {}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);

function recordView(message: KafkaMessage, headers: Record<string, string>, value: unknown, role: TopicRole): RecordView {
  const fromValue = (value ?? null) as { source_version?: bigint | number; occurred_at?: number; chunks?: unknown[] } | null;
  const versionText = headers[HEADERS.sourceVersion] ?? (fromValue?.source_version !== undefined ? String(fromValue.source_version) : undefined);
  const occurred = headers[HEADERS.occurredAt] !== undefined ? Number(headers[HEADERS.occurredAt]) : fromValue?.occurred_at !== undefined ? Number(fromValue.occurred_at) : NaN;
  const view: RecordView = {
    offset: message.offset,
    version: versionText !== undefined && /^-?\d+$/.test(versionText) ? versionText : null,
    occurredAt: iso(occurred),
    timestamp: iso(Number(message.timestamp)) ?? '?',
    tombstone: message.value === null,
  };
  if ((role === 'chunks' || role === 'vectors') && Array.isArray(fromValue?.chunks)) view.chunks = fromValue.chunks.length;
  if (role === 'retry' || role === 'due') {
    const number = (text: string | undefined) => (text !== undefined && /^\d+$/.test(text) ? Number(text) : null);
    view.retry = {
      tier: number(headers[HEADERS.retryTier]),
      dueAt: headers[HEADERS.dueAt] ?? null,
      attempt: number(headers[HEADERS.attempt]),
      errorCode: headers[HEADERS.errorCode] ?? null,
      errorMessage: headers[HEADERS.errorMessage] ?? null,
    };
  }
  return view;
}

/** The value of a change record as far as the shop lookups need it. */
interface ChangeValue {
  sku?: string | null;
  price?: number | null;
  qty?: number | null;
  attributes?: Record<string, string>;
}

/**
 * Traces `key` (already canonical, see {@link canonicalKey}). Kafka is read as it is at the start:
 * every partition to the end offset captured then.
 */
export async function traceEntity(kafka: Kafka, config: Config, keyText: string, deps: TraceDeps = {}, options: TraceOptions = {}): Promise<EntityTrace> {
  const { key, entity } = canonicalKey(keyText);
  const prefix = config.topics.prefix;
  const groupPrefix = config.runner.groupPrefix ?? prefix;
  const deadline = new Deadline(options.timeoutMs ?? 120_000);
  const scrub = deps.scrub ?? ((text: string) => text);
  const hops = hopsOf(entity, config);
  const dlqGroups = enabledStages(config.tenants).map((s) => s.group);
  const keyBytes = Buffer.from(key, 'utf8');

  // Where the key lives on each topic, and the offsets to read, as of now.
  const names = [...hops.map((h) => `${prefix}${h.topic}`), ...dlqGroups.map((g) => `${prefix}${g}.dlq`)];
  const layout = await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    const { topics } = present.length > 0 ? await admin.fetchTopicMetadata({ topics: present }) : { topics: [] };
    const result = new Map<string, { partition: number; low: string; high: string }>();
    for (const t of topics) {
      const partition = partitionOf(keyBytes, t.partitions.length);
      const offsets = await admin.fetchTopicOffsets(t.name);
      const range = offsets.find((o) => o.partition === partition);
      if (range) result.set(t.name, { partition, low: range.low, high: range.high });
    }
    return result;
  });

  const views: TopicView[] = hops.map((hop) => {
    const name = `${prefix}${hop.topic}`;
    const at = layout.get(name);
    return {
      topic: hop.topic,
      name,
      role: hop.role,
      ...(hop.owner ? { owner: hop.owner } : {}),
      exists: at !== undefined,
      ...(at ? { partition: at.partition, low: at.low, high: at.high } : {}),
      read: 0,
      complete: at === undefined || at.low === at.high,
      matches: 0,
      groups: [],
    };
  });

  const readOptions = () => ({ groupPrefix: `${groupPrefix}trace-`, stallTimeoutMs: Math.max(1000, Math.min(30_000, deadline.left)) });
  const progress = (what: string, total: number) => {
    const above = options.progressAbove ?? 20_000;
    return total > above && options.onProgress ? (read: number) => options.onProgress!(what, read, total) : undefined;
  };

  // The newest record of the key on each topic partition.
  const newest = new Map<string, { message: KafkaMessage; headers: Record<string, string> }>();
  await pool(
    views
      .filter((v) => v.exists && v.low !== v.high)
      .map((view) => async () => {
        const total = Number(BigInt(view.high!) - BigInt(view.low!));
        const report = progress(`${view.name} partition ${view.partition}`, total);
        try {
          if (deadline.left === 0) throw new OutOfTime();
          await readWindows(
            kafka,
            view.name,
            [{ partition: view.partition!, from: view.low!, to: view.high! }],
            (_partition, messages) => {
              for (const message of messages) {
                if (message.key !== null && message.key !== undefined && keyBytes.equals(message.key)) {
                  view.matches += 1;
                  newest.set(view.name, { message, headers: headersToStrings(message.headers) });
                }
              }
              view.read += messages.length;
              report?.(view.read);
              if (deadline.left === 0) throw new OutOfTime();
            },
            readOptions(),
          );
          view.complete = true;
        } catch (error) {
          view.problem =
            error instanceof OutOfTime
              ? `read ${view.read} of ${total} records before the time limit; the newest record shown may not be the newest`
              : `not read to its end: ${describeError(error)}`;
        }
      }),
    options.concurrency ?? 4,
  );

  // Values: only of the newest records (versions when a header is missing, chunk counts, the SKU for the shops).
  let change: ChangeValue | undefined;
  for (const view of views) {
    const found = newest.get(view.name);
    if (!found) continue;
    let value: unknown;
    if (found.message.value && deps.decode && (view.role === 'change' || view.role === 'chunks' || view.role === 'vectors' || found.headers[HEADERS.sourceVersion] === undefined)) {
      const origin = view.role === 'retry' || view.role === 'due' ? (found.headers[HEADERS.origTopic] ?? view.name) : view.name;
      value = await deps.decode(origin, found.message.value).catch(() => undefined);
    }
    if (view.role === 'change' && value) change = value as ChangeValue;
    view.newest = recordView(found.message, found.headers, value, view.role);
  }

  // Each reader's committed offset on the key's partition.
  await withAdmin(kafka, async (admin) => {
    const byGroup = new Map<string, { stage: string; views: TopicView[] }>();
    hops.forEach((hop, i) => {
      for (const reader of hop.readers) {
        const entry = byGroup.get(reader.group) ?? { stage: reader.stage, views: [] };
        entry.views.push(views[i]!);
        byGroup.set(reader.group, entry);
      }
    });
    for (const [group, { stage, views: read }] of byGroup) {
      const existing = read.filter((v) => v.exists);
      const committed = existing.length > 0 ? await admin.fetchOffsets({ groupId: `${groupPrefix}${group}`, topics: existing.map((v) => v.name) }) : [];
      for (const view of read) {
        if (!view.exists) continue;
        const text = committed.find((c) => c.topic === view.name)?.partitions.find((p) => p.partition === view.partition)?.offset;
        const at = text !== undefined && BigInt(text) >= 0n ? BigInt(text) : undefined;
        const low = BigInt(view.low!);
        const high = BigInt(view.high!);
        const from = at ?? low;
        const lag = Number(high > from ? high - from : 0n);
        const g: GroupView = { stage, group: `${groupPrefix}${group}`, committed: at === undefined ? null : at.toString(), lag, state: 'no-record' };
        if (view.newest) {
          const offset = BigInt(view.newest.offset);
          if (at !== undefined && at > offset) g.state = 'processed';
          else {
            g.state = 'waiting';
            g.ahead = Number(offset > from ? offset - from : 0n);
          }
        }
        view.groups.push(g);
      }
    }
  });

  const trace: EntityTrace = {
    key,
    entity,
    topicPrefix: prefix,
    groupPrefix,
    topics: views,
    shops: [],
    dlq: { topics: [], records: [], problems: [] },
    verdict: '',
    findings: [],
  };

  // Dead letters of the key in every enabled group's DLQ, through the DLQ reader, and their replay marks.
  const reader = new DlqReader(kafka, { topicPrefix: prefix, groupPrefix: `${groupPrefix}trace-`, groups: dlqGroups, stallTimeoutMs: Math.max(1000, Math.min(30_000, deadline.left)) });
  let marks: MarkIndex | undefined;
  try {
    marks = await new DlqMarks(kafka, { topicPrefix: prefix, groupPrefix: `${groupPrefix}trace-`, stallTimeoutMs: Math.max(1000, Math.min(30_000, deadline.left)) }).load();
  } catch (error) {
    trace.dlq.problems.push(`replay marks not read: ${describeError(error)}`);
  }
  const dead: DeadRecord[] = [];
  await pool(
    dlqGroups.map((group) => async () => {
      const name = `${prefix}${group}.dlq`;
      const at = layout.get(name);
      if (!at) return;
      trace.dlq.topics.push(`${group}.dlq`);
      if (at.low === at.high) return;
      const total = Number(BigInt(at.high) - BigInt(at.low));
      const report = progress(`${name} partition ${at.partition}`, total);
      let read = 0;
      try {
        await reader.scanBatches(group, [{ partition: at.partition, low: at.low, high: at.high }], (records) => {
          for (const record of records) if (record.key === key) dead.push(record);
          read += records.length;
          report?.(read);
          if (deadline.left === 0) throw new OutOfTime();
        });
      } catch (error) {
        trace.dlq.problems.push(error instanceof OutOfTime ? `${group}.dlq: read ${read} of ${total} records before the time limit` : `${group}.dlq: ${describeError(error)}`);
      }
    }),
    options.concurrency ?? 4,
  );
  trace.dlq.topics.sort((a, b) => dlqGroups.indexOf(a.slice(0, -4)) - dlqGroups.indexOf(b.slice(0, -4)));
  trace.dlq.records = dead
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((record): DeadView => {
      const mark = marks?.replayed(record);
      const version = record.headers[HEADERS.sourceVersion];
      return {
        ref: record.ref,
        group: record.ref.slice(0, record.ref.indexOf(':')),
        deadLetteredAt: iso(record.timestamp) ?? '?',
        version: version !== undefined && /^-?\d+$/.test(version) ? version : null,
        errorClass: record.errorClass ?? null,
        errorCode: record.errorCode,
        errorMessage: record.errorMessage === undefined ? null : scrub(record.errorMessage),
        attempt: record.attempt ?? null,
        original: record.original ?? null,
        replayed: mark ? { at: mark.at, to: mark.to ? `${mark.to.topic} partition ${mark.to.partition} offset ${mark.to.offset}` : null } : null,
      };
    });

  // The vector store: the document's head and its points.
  if (deps.store) {
    const view: StoreView = { description: deps.storeDescription ?? 'store', points: 0, pointVersions: [] };
    try {
      const doc = await deps.store.getDocument(key);
      if (doc.head) {
        view.head = {
          version: doc.head.version.toString(),
          deleted: doc.head.deleted,
          deletedAt: doc.head.deleted_at === null ? null : iso(doc.head.deleted_at),
          aspects: Object.fromEntries(Object.entries(doc.head.aspects).map(([aspect, state]) => [aspect, state!.version.toString()])),
        };
      }
      view.points = doc.points.length;
      view.pointVersions = [...new Set(doc.points.map((p) => String(p.payload.source_version)))];
    } catch (error) {
      view.problem = scrub(describeError(error));
    }
    trace.store = view;
  } else if (deps.storeProblem !== undefined) {
    trace.store = { description: deps.storeDescription ?? 'store', points: 0, pointVersions: [], problem: scrub(deps.storeProblem) };
  }

  // Each shop of the key's tenant, read through the sinks' own lookups.
  const targets = config.tenants[entity.tenant]?.targets;
  if (targets?.shopware) {
    const target = targets.shopware;
    const client = new ShopwareClient({ url: target.url, clientId: target.clientId, clientSecret: target.clientSecret, timeoutMs: target.timeoutMs, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
    const view: ShopView = { kind: 'shopware', host: client.host, found: false, versions: {} };
    const skip = skipReason(entity, target.stores);
    if (skip) view.skipped = skip;
    else {
      try {
        const product = await lookupKeyProduct((criteria) => client.searchProducts(criteria), key, change?.sku ?? undefined);
        if (product) {
          view.found = true;
          view.id = product.id;
          view.versions = versionTexts({ product: product.version, price: product.priceVersion, stock: product.stockVersion });
        }
        if (deps.redis) {
          const deleted = (await new DeleteVersions(deps.redis, config.redis.keyPrefix, client.host).read([key])).get(key);
          if (deleted !== undefined) view.deleteVersion = deleted.toString();
        }
      } catch (error) {
        view.problem = scrub(describeError(error));
      }
    }
    trace.shops.push(view);
  }
  if (targets?.woocommerce) {
    const target = targets.woocommerce;
    const client = new WooClient(target, { fetch: deps.fetch });
    const view: ShopView = { kind: 'woocommerce', host: client.host, found: false, versions: {} };
    const skip = skipReason(entity, target.stores);
    if (skip) view.skipped = skip;
    else if (!deps.redis) view.problem = 'not read: the id mapping lives in Redis, which is not available';
    else {
      try {
        const ids = new IdMap(deps.redis, config.redis.keyPrefix, client.host);
        const parentSku = change?.attributes?.parent_sku || undefined;
        const found = await findKeyProduct(client, ids, key, change?.sku || entity.entityId, parentSku);
        if (found) {
          view.found = true;
          view.id = found.location.parent === undefined ? String(found.location.id) : `${found.location.parent}/${found.location.id}`;
          view.versions = versionTexts(storedVersions(found.product));
        }
        const deleted = (await ids.deleteVersions([key])).get(key);
        if (deleted !== undefined) view.deleteVersion = deleted.toString();
      } catch (error) {
        view.problem = scrub(describeError(error));
      }
    }
    trace.shops.push(view);
  }

  const { verdict, findings } = judge(trace);
  trace.verdict = verdict;
  trace.findings = findings;
  return trace;
}

function skipReason(entity: EntityKey, stores: readonly number[]): string | undefined {
  if (entity.entityType !== 'product') return `not pushed: the shop takes products only`;
  if (!stores.includes(entity.storeId)) return `not pushed: store ${entity.storeId} is not among the shop's stores (${stores.join(', ')})`;
  return undefined;
}

function versionTexts(versions: { product?: bigint; price?: bigint; stock?: bigint }): ShopView['versions'] {
  return Object.fromEntries(Object.entries(versions).filter(([, v]) => v !== undefined).map(([k, v]) => [k, (v as bigint).toString()]));
}

const big = (text: string | null | undefined): bigint | undefined => (text === null || text === undefined ? undefined : BigInt(text));

/**
 * The verdict, most urgent first: a dead-lettered record that nothing newer overtook, a retry
 * still waiting, a group that has not processed the key's newest record, a hop that holds another
 * version than its source, else in sync.
 */
export function judge(trace: EntityTrace): { verdict: string; findings: string[] } {
  const topic = (name: string) => trace.topics.find((t) => t.topic === name);
  const main = trace.topics.find((t) => t.role === 'change')!;
  const source = main.newest;
  const findings: string[] = [];
  const dead: string[] = [];
  const retries: string[] = [];
  const behind: string[] = [];
  const differ: string[] = [];

  // Dead letters: one counts when it was not replayed and its input holds nothing newer of the key.
  for (const d of trace.dlq.records) {
    if (d.replayed) continue;
    const input = d.original ? trace.topics.find((t) => t.name === d.original!.topic) : undefined;
    const newer = input?.newest?.version && d.version !== null && BigInt(input.newest.version) > BigInt(d.version);
    if (!newer) dead.push(`dead-lettered in ${d.group}.dlq: ${d.errorCode}`);
  }

  // Retries: a record of the key in a tier its retry consumer has not forwarded, or in the due topic its group has not applied.
  for (const t of trace.topics.filter((x) => x.role === 'retry' || x.role === 'due')) {
    if (!t.newest) continue;
    const waiting = t.groups.find((g) => g.state === 'waiting');
    if (!waiting) continue;
    const r = t.newest.retry;
    const when = t.role === 'retry' ? `, due ${r?.dueAt ?? '?'}` : ', due now';
    retries.push(`waiting for retry: ${t.owner} holds version ${t.newest.version ?? '?'} in ${t.topic} (${r?.errorCode ?? 'unknown error'}${when})`);
  }

  // Groups that have not committed past the key's newest record.
  for (const t of trace.topics.filter((x) => x.role !== 'retry' && x.role !== 'due')) {
    for (const g of t.groups) {
      if (g.state === 'waiting') behind.push(`behind: ${g.stage} has not processed offset ${t.newest!.offset} of ${t.topic} (lag ${g.lag})`);
    }
  }

  // Versions along the way.
  const want = big(source?.version);
  if (source && want !== undefined) {
    for (const name of ['documents', 'chunks', 'vectors']) {
      const t = topic(name);
      if (!t?.exists) continue;
      const have = big(t.newest?.version);
      if (have !== want) differ.push(`${name} holds ${have === undefined ? 'no record' : `version ${have}`}, ${main.topic} has ${want}`);
    }
    const store = trace.store;
    if (store && !store.problem) {
      const head = store.head ? BigInt(store.head.version) : undefined;
      if (head !== want) differ.push(`the store holds ${head === undefined || head === 0n ? 'no version' : `version ${head}`}, ${main.topic} has ${want}`);
      const doc = topic('vectors')?.newest;
      if (store.head && !store.head.deleted && doc && !doc.tombstone && doc.chunks !== undefined && doc.chunks !== store.points) {
        differ.push(`the store holds ${store.points} points, vectors has ${doc.chunks} chunks`);
      }
      if (store.pointVersions.some((v) => BigInt(v) !== head) && store.head && !store.head.deleted) differ.push(`the store's points carry versions ${store.pointVersions.join(', ')}`);
    }
    for (const shop of trace.shops) {
      if (shop.skipped || shop.problem) continue;
      if (source.tombstone) {
        const deleted = big(shop.deleteVersion);
        if (shop.found) differ.push(`${shop.kind} still has the product (version ${shop.versions.product ?? '-'}), ${main.topic} deleted it at ${want}`);
        else if (deleted !== undefined && deleted !== want) differ.push(`${shop.kind} remembers a delete at ${deleted}, ${main.topic} has ${want}`);
      } else if (!shop.found) differ.push(`${shop.kind} has no product for the key, ${main.topic} has version ${want}`);
      else if (big(shop.versions.product) !== want) differ.push(`${shop.kind} holds product version ${shop.versions.product ?? '-'}, ${main.topic} has ${want}`);
    }
  }
  // Aspects: the store and the shops hold at least the newest price and stock versions.
  for (const aspect of ['product_price', 'product_stock'] as const) {
    const t = topic(`changes.${aspect}`);
    const v = big(t?.newest?.version);
    if (!t?.newest || v === undefined || t.newest.tombstone) continue;
    const store = trace.store;
    if (store?.head && !store.problem) {
      const held = big(store.head.aspects[aspect]);
      if (held === undefined || held < v) differ.push(`the store holds ${aspect} ${held ?? 'none'}, changes.${aspect} has ${v}`);
    }
    if (source?.tombstone) continue;
    const cls = aspect === 'product_price' ? 'price' : 'stock';
    for (const shop of trace.shops) {
      if (shop.skipped || shop.problem || !shop.found) continue;
      const held = big(shop.versions[cls]);
      if (held === undefined || held < v) differ.push(`${shop.kind} holds ${cls} version ${held ?? '-'}, changes.${aspect} has ${v}`);
    }
  }

  findings.push(...dead, ...retries, ...behind, ...differ);
  // What could not be read: the verdict cannot say "in sync" past it.
  const unread = [
    ...trace.topics.filter((t) => t.problem).map((t) => `${t.topic} was not read to its end`),
    ...(trace.store?.problem ? [`the store was not read: ${trace.store.problem}`] : []),
    ...trace.shops.filter((x) => x.problem).map((x) => `${x.kind} ${x.host} was not read: ${x.problem}`),
    ...trace.dlq.problems.map((p) => `dead letters: ${p}`),
  ];
  for (const t of trace.topics) if (t.problem) findings.push(`${t.topic}: ${t.problem}`);
  findings.push(...unread.filter((u) => !u.endsWith('was not read to its end')));
  if (!source) {
    const why = main.exists ? (main.complete ? `no record of the key on ${main.topic}` : `no record of the key found on ${main.topic} within the time limit`) : `${main.topic} does not exist`;
    return { verdict: dead[0] ?? `unknown: ${why}`, findings };
  }
  const first = dead[0] ?? retries[0] ?? behind[0] ?? (differ[0] ? `out of sync: ${differ[0]}` : undefined);
  if (first) return { verdict: first, findings };
  if (unread.length > 0) return { verdict: `incomplete: ${unread[0]}`, findings };
  const aspects = ['product_price', 'product_stock']
    .map((a) => [a, topic(`changes.${a}`)?.newest] as const)
    .filter(([, r]) => r?.version)
    .map(([a, r]) => `${a === 'product_price' ? 'price' : 'stock'} ${r!.version}`);
  const what = source.tombstone ? `deleted at version ${source.version}` : `version ${source.version}`;
  return { verdict: `in sync: ${what} everywhere${aspects.length > 0 ? ` (${aspects.join(', ')})` : ''}`, findings };
}
