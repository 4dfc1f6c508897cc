import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../core/errors.js';
import { configSchema, type Config, type TenantConfig } from './schema.js';

/**
 * Environment variables and the config path each one sets. The table in README.md is the same
 * list; `ragsync config` prints the resolved values with secrets masked.
 */
export const ENV_VARS: ReadonlyArray<{ name: string; path: string; kind: 'string' | 'int' | 'bool' | 'list' | 'json' | 'delays'; secret?: boolean; doc: string }> = [
  { name: 'KAFKA_BROKERS', path: 'kafka.brokers', kind: 'list', doc: 'Comma-separated bootstrap brokers' },
  { name: 'KAFKA_CLIENT_ID', path: 'kafka.clientId', kind: 'string', doc: 'Kafka client id' },
  { name: 'KAFKA_SSL', path: 'kafka.ssl', kind: 'bool', doc: 'Use TLS to the brokers' },
  { name: 'KAFKA_SASL_MECHANISM', path: 'kafka.sasl.mechanism', kind: 'string', doc: 'plain, scram-sha-256 or scram-sha-512' },
  { name: 'KAFKA_SASL_USERNAME', path: 'kafka.sasl.username', kind: 'string', doc: 'SASL user' },
  { name: 'KAFKA_SASL_PASSWORD', path: 'kafka.sasl.password', kind: 'string', secret: true, doc: 'SASL password' },
  { name: 'KAFKA_ACK_TIMEOUT_MS', path: 'kafka.ackTimeoutMs', kind: 'int', doc: 'Deadline for Kafka to acknowledge a publish' },
  { name: 'SCHEMA_REGISTRY_URL', path: 'registry.url', kind: 'string', doc: 'Confluent-compatible Schema Registry base URL' },
  { name: 'SCHEMA_REGISTRY_USERNAME', path: 'registry.username', kind: 'string', doc: 'Registry basic-auth user' },
  { name: 'SCHEMA_REGISTRY_PASSWORD', path: 'registry.password', kind: 'string', secret: true, doc: 'Registry basic-auth password' },
  { name: 'REDIS_URL', path: 'redis.url', kind: 'string', secret: true, doc: 'Redis URL (redis:// or rediss://, may hold a password)' },
  { name: 'RAGSYNC_REDIS_PREFIX', path: 'redis.keyPrefix', kind: 'string', doc: 'Prefix of every Redis key' },
  { name: 'RAGSYNC_TOPIC_PREFIX', path: 'topics.prefix', kind: 'string', doc: 'Prefix of every topic name' },
  { name: 'RAGSYNC_GROUP_PREFIX', path: 'runner.groupPrefix', kind: 'string', doc: 'Prefix of consumer group ids (default: the topic prefix); a new one replays every topic' },
  { name: 'RAGSYNC_MAX_RECORDS_PER_CALL', path: 'runner.maxRecordsPerCall', kind: 'int', doc: 'Records a stage handles per call (default 2000); offsets are committed once a slice\'s outputs are acknowledged' },
  { name: 'RAGSYNC_STAGE_THREADS', path: 'runner.threads', kind: 'string', doc: 'Threads of a process running several stages (`run`, `resync`): auto (default: one per core but one, at most one per stage; on two cores all on one thread), a number (1: all on one thread), or groups like map,chunk/embed,store' },
  { name: 'RAGSYNC_THREAD_HEAP_MB', path: 'runner.threadHeapMb', kind: 'int', doc: 'Heap limit (V8 old generation, MB) of each stage thread when a process runs stages on several threads (default 192)' },
  { name: 'RAGSYNC_THREAD_YOUNG_MB', path: 'runner.threadYoungMb', kind: 'int', doc: 'Young-generation size (V8, MB) of each stage thread when a process runs stages on several threads (default 12; V8 alone would take 48)' },
  { name: 'RAGSYNC_FETCH_MAX_BYTES', path: 'runner.fetchMaxBytes', kind: 'int', doc: 'Bytes one fetch of a stage writing to a target (store, push stages) may bring (default 8 MiB: larger fetches, larger batched writes); with RAGSYNC_MAX_RECORDS_PER_CALL it bounds what a stage holds at once' },
  { name: 'RAGSYNC_TRANSFORM_FETCH_MAX_BYTES', path: 'runner.transformFetchMaxBytes', kind: 'int', doc: 'Bytes one fetch of map, chunk or embed may bring (default 1 MiB); they work record by record' },
  { name: 'RAGSYNC_FETCH_PARTITION_MAX_BYTES', path: 'runner.fetchMaxBytesPerPartition', kind: 'int', doc: 'Bytes one fetch may bring per partition (default 4 MiB); a larger record is still fetched, alone' },
  { name: 'RAGSYNC_PARTITIONS', path: 'topics.partitions', kind: 'int', doc: 'Partitions of new topics' },
  { name: 'RAGSYNC_RETRY_DELAYS', path: 'topics.retryDelaysMs', kind: 'delays', doc: 'Delays of the retry topics of terminal groups, in order (default 5m,15m,60m; units ms, s, m, h); after the last a record goes to the DLQ' },
  { name: 'RAGSYNC_REPLICATION_FACTOR', path: 'topics.replicationFactor', kind: 'int', doc: 'Replication factor of new topics' },
  { name: 'RAGSYNC_MAX_MESSAGE_BYTES', path: 'topics.maxMessageBytes', kind: 'int', doc: 'max.message.bytes of every topic (default 4 MiB); producers refuse a record over it before sending anything' },
  { name: 'RAGSYNC_MAX_FUTURE_SECONDS', path: 'ingress.maxFutureSeconds', kind: 'int', doc: 'How far ahead of the server clock an event time may lie (default 300); a later one is refused' },
  { name: 'RAGSYNC_TENANTS', path: 'tenants', kind: 'json', secret: true, doc: 'Tenants as JSON: {"<tenant>":{"secrets":["…"],"stores":[1,2],"targets":{…}}} (targets: docs/connectors/shopware.md, woocommerce.md, webhook-forwarder.md)' },
  { name: 'RAGSYNC_WEBHOOK_PORT', path: 'webhook.port', kind: 'int', doc: 'Port of `webhook serve`' },
  { name: 'RAGSYNC_WEBHOOK_MAX_AGE_SECONDS', path: 'webhook.maxAgeSeconds', kind: 'int', doc: 'Reject webhook bodies older than this (0 = off)' },
  { name: 'RAGSYNC_WEBHOOK_MAX_VERSION_LEAD_SECONDS', path: 'webhook.maxVersionLeadSeconds', kind: 'int', doc: 'How far a webhook timestamp ahead of the server clock may raise versions (default 0: versions follow the server clock)' },
  { name: 'RAGSYNC_WEBHOOK_INVALID_ITEMS', path: 'webhook.invalidItems', kind: 'string', doc: 'publish-valid (default: publish the valid items of a batch, name the invalid ones in the 202) or refuse-batch (400, nothing published)' },
  { name: 'EMBEDDER', path: 'embedder.kind', kind: 'string', doc: 'auto, hashing, onnx or openai' },
  { name: 'EMBEDDING_URL', path: 'embedder.url', kind: 'string', doc: 'OpenAI-compatible /v1 base URL' },
  { name: 'EMBEDDING_API_KEY', path: 'embedder.apiKey', kind: 'string', secret: true, doc: 'API key of the embedding endpoint' },
  { name: 'EMBEDDING_MODEL', path: 'embedder.model', kind: 'string', doc: 'Embedding model name' },
  { name: 'EMBEDDING_DIMENSIONS', path: 'embedder.dimensions', kind: 'int', doc: 'Vector size (hashing embedder, or to request from the endpoint)' },
  { name: 'RAGSYNC_LOCAL_MODEL', path: 'embedder.localModel', kind: 'string', doc: 'The local ONNX model: minilm (default: all-MiniLM-L6-v2, English), bge-small-en (bge-small-en-v1.5: higher on public retrieval benchmarks, twice as slow) or bge-small-zh (bge-small-zh-v1.5: Chinese, 512 dimensions); each fills its own collection (docs/retrieval.md#local-models)' },
  { name: 'RAGSYNC_MODEL_DIR', path: 'embedder.modelDir', kind: 'string', doc: 'Folder of the local ONNX model (default models/<the model\'s folder>); a model of your own (a multilingual one, say) once `ragsync model import` has described it' },
  { name: 'QDRANT_URL', path: 'store.qdrantUrl', kind: 'string', doc: 'Qdrant URL; unset means the embedded LanceDB store' },
  { name: 'QDRANT_API_KEY', path: 'store.qdrantApiKey', kind: 'string', secret: true, doc: 'Qdrant API key' },
  { name: 'RAGSYNC_COLLECTION', path: 'store.collection', kind: 'string', doc: 'Qdrant collection / LanceDB table' },
  { name: 'LANCEDB_PATH', path: 'store.lancedbPath', kind: 'string', doc: 'Folder of the embedded LanceDB store' },
  { name: 'RAGSYNC_SEARCH_MODE', path: 'search.mode', kind: 'string', doc: 'How search and eval rank: hybrid (default: BM25 and dense vectors fused by reciprocal rank fusion), dense or lexical' },
  { name: 'RAGSYNC_BREAKER_THRESHOLD', path: 'sinks.breaker.threshold', kind: 'int', doc: 'Consecutive retryable failures of a sink\'s target that open its circuit (default 5)' },
  { name: 'RAGSYNC_BREAKER_OPEN_MS', path: 'sinks.breaker.openMs', kind: 'int', doc: 'How long an open circuit stops calls to its target before probing it (default 300000: 5 minutes)' },
  { name: 'RAGSYNC_BREAKER_HALF_OPEN_PROBES', path: 'sinks.breaker.halfOpenProbes', kind: 'int', doc: 'Calls let through at once, across all replicas, while a circuit is half-open (default 1)' },
  { name: 'RAGSYNC_RATE_LIMITS', path: 'sinks.rateLimits', kind: 'json', doc: 'Rate limits by endpoint as JSON: {"<target>":{"ratePerSecond":50,"burst":100}}; shared by replicas through Redis' },
  { name: 'RAGSYNC_HTTP_PORT', path: 'http.port', kind: 'int', doc: 'Port of /healthz, /readyz, /metrics of workers' },
  { name: 'RAGSYNC_DASHBOARD_TOKEN', path: 'dashboard.token', kind: 'string', secret: true, doc: 'Token the users of `ragsync dashboard` sign in with (at least 16 characters); without it the dashboard refuses to start unless `--no-auth` on a loopback address' },
  { name: 'RAGSYNC_DASHBOARD_PORT', path: 'dashboard.port', kind: 'int', doc: 'Port of `ragsync dashboard` (default 8790)' },
  { name: 'LOG_LEVEL', path: 'logLevel', kind: 'string', doc: 'fatal, error, warn, info, debug, trace or silent' },
];

const SECTIONS = ['kafka', 'registry', 'redis', 'topics', 'ingress', 'webhook', 'chunking', 'embedder', 'store', 'runner', 'http', 'dashboard'] as const;

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function convert(name: string, kind: string, raw: string): unknown {
  switch (kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name}: expected an integer, got "${raw}"`);
      return Number(raw);
    }
    case 'bool': {
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${name}: expected true or false, got "${raw}"`);
    }
    case 'delays':
      return parseDelays(name, raw);
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    case 'json':
      try {
        return JSON.parse(raw);
      } catch {
        throw new ConfigError(`${name}: not valid JSON`);
      }
    default:
      return raw;
  }
}

/** `5m,15m,60m` / `30s` / `1500ms` / `1h` → milliseconds; `name` is what an error names. */
export function parseDelays(name: string, text: string): number[] {
  return text.split(',').map((part) => {
    const match = /^\s*(\d+)\s*(ms|s|m|h)\s*$/.exec(part);
    if (!match || Number(match[1]) <= 0) throw new ConfigError(`${name}: "${part.trim()}" is not a delay such as 30s, 5m or 1h`);
    const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
    return Number(match[1]) * factor;
  });
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides applied last, e.g. from CLI flags. */
  overrides?: Record<string, unknown>;
}

/** Reads the config file and the environment once; a bad value throws a ConfigError naming it. */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const tree: Tree = {};
  for (const section of SECTIONS) tree[section] = {};

  const file = env.RAGSYNC_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = parseYaml(readFileSync(file, 'utf8'));
    } catch (cause) {
      throw new ConfigError(`RAGSYNC_CONFIG: cannot read ${file}: ${(cause as Error).message}`);
    }
    if (parsed !== null && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed as Tree)) {
        tree[k] = typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...(tree[k] as Tree | undefined), ...(v as Tree) } : v;
      }
    }
  }
  for (const v of ENV_VARS) {
    const raw = env[v.name];
    if (raw === undefined || raw === '') continue;
    setPath(tree, v.path, convert(v.name, v.kind, raw));
  }
  for (const [path, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) setPath(tree, path, value);
  }

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join('.');
    const variable = ENV_VARS.find((v) => path === v.path || path.startsWith(`${v.path}.`));
    const where = variable ? `${variable.name} (${path})` : path || 'config';
    throw new ConfigError(`${where}: ${issue.message}`);
  }
  return result.data;
}

/** The config with every secret replaced, safe to print or log. */
export function redactConfig(config: Config): unknown {
  const copy = structuredClone(config) as Tree;
  for (const v of ENV_VARS.filter((e) => e.secret)) {
    const parts = v.path.split('.');
    let node: Tree | undefined = copy;
    for (const part of parts.slice(0, -1)) node = node?.[part] as Tree | undefined;
    const leaf = parts[parts.length - 1]!;
    if (node && node[leaf] !== undefined) {
      if (v.name === 'REDIS_URL') node[leaf] = String(node[leaf]).replace(/\/\/([^@/]*)@/, '//***@');
      else if (v.name === 'RAGSYNC_TENANTS') {
        const tenants = node[leaf] as Record<string, TenantConfig>;
        for (const t of Object.values(tenants)) {
          t.secrets = t.secrets.map(() => '***');
          const { shopware, woocommerce, webhooks } = t.targets;
          if (shopware) shopware.clientSecret = '***';
          if (woocommerce) {
            woocommerce.consumerSecret = '***';
            if (woocommerce.webhookSecret !== undefined) woocommerce.webhookSecret = '***';
          }
          for (const w of webhooks) w.secret = '***';
        }
      } else node[leaf] = '***';
    }
  }
  return copy;
}
