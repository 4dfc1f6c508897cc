import type { Config } from '../../src/config/index.js';
import type { DocumentRecord } from '../../src/core/records.js';
import { toChunkSet } from '../../src/consumers/chunk/chunk-stage.js';
import { createMapStage } from '../../src/consumers/map/map-stage.js';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { parsePublishLine } from '../../src/producers/publish/ndjson-line.js';
import { runPublish } from '../../src/producers/publish/run-publish.js';
import { approxTokenizer } from '../../src/text/approx-tokenizer.js';
import { generateEntities, type PublishLine } from '../../test/support/generate-entities.js';
import { BenchDeployment, caughtUp, metricSum } from '../worker.js';
import type { Scenario } from './context.js';

export const SAVES = 10;
const CORE = ['map', 'chunk', 'embed', 'store'];

/**
 * Save `round` (0–9) of an entity: the first five carry its text as generated, the last five a
 * revised text; products also change price on every save (what most saves upstream are).
 */
export function saveOf(line: PublishLine, round: number): PublishLine {
  const data = { ...(line.data ?? {}) };
  const field = ['description', 'content'].find((f) => typeof data[f] === 'string');
  if (round >= SAVES / 2 && field) data[field] = `${String(data[field])} Revised edition with new care notes.`;
  if (typeof data.price === 'number') data.price = data.price + round;
  return { ...line, source_version: round + 1, data };
}

/** Distinct chunk texts over every save, by ragsync's own map and chunk code: what must be embedded at least once. */
export async function distinctChunks(config: Config, lines: readonly PublishLine[]): Promise<number> {
  const map = createMapStage(config);
  const hashes = new Set<string>();
  const context = { heartbeat: async () => undefined, isStale: () => false };
  for (const [i, line] of lines.entries()) {
    const parsed = parsePublishLine(JSON.stringify(line), i + 1, { now: Date.now(), storesOf: () => [0] });
    if (!parsed.ok) continue;
    for (const m of parsed.messages) {
      const [result] = await map.process([{ topic: `changes.${m.type}`, partition: 0, offset: '0', key: m.key, value: m.value, headers: {}, sourceVersion: m.sourceVersion, occurredAt: m.occurredAt }], context);
      const document = result?.ok ? result.outputs[0]?.value : undefined;
      if (!document) continue;
      for (const chunk of toChunkSet(document as DocumentRecord, approxTokenizer, config.chunking).chunks) hashes.add(chunk.hash);
    }
  }
  return hashes.size;
}

export const savesScenario: Scenario = {
  name: 'saves',
  about: '10 saves per entity: texts sent to the embedding endpoint against the distinct chunks',
  async run(context) {
    const entities = context.quick ? 50 : 10_000;
    const deployment = new BenchDeployment(`benchsaves${Date.now().toString(36)}.`, { EMBEDDER: 'openai', EMBEDDING_URL: context.endpoint.url, EMBEDDING_MODEL: 'hashing' });
    await deployment.createTopics();
    const sink = new KafkaChangeSink(deployment.kafka, deployment.config);
    try {
      const base = generateEntities(entities, { tenant: 'bench', seed: 29 });
      const lines = Array.from({ length: SAVES }, (_, round) => base.map((l) => saveOf(l, round))).flat();
      const distinct = await distinctChunks(deployment.config, lines);
      context.say(`saves: ${entities.toLocaleString('en-US')} entities × ${SAVES} saves = ${lines.length.toLocaleString('en-US')} changes (${distinct.toLocaleString('en-US')} distinct chunks), endpoint model hashing…`);
      async function* iterate() {
        for (const l of lines) yield JSON.stringify(l);
      }
      const summary = await runPublish(iterate(), { sink, now: Date.now(), storesOf: () => [0] });
      context.endpoint.reset();
      const worker = await deployment.start();
      let metrics: string;
      try {
        metrics = await worker.waitFor(`${summary.published} changes through the pipeline`, (m) => caughtUp(m, CORE, { map: summary.published }), Math.max(180_000, lines.length * 20), (m) => context.say(`  saves: map ${metricSum(m, 'ragsync_records_total', { stage: 'map' })} of ${summary.published}`));
      } finally {
        await worker.stop();
      }
      const counts = context.endpoint.reset().hashing;
      const cached = metricSum(metrics, 'ragsync_embeddings_total', { source: 'cache' });
      context.raw.saves = { entities, saves: SAVES, published: summary.published, distinctChunks: distinct, endpoint: counts, cacheHits: cached };
      context.say(`  saves: ${counts.texts} texts in ${counts.calls} calls for ${distinct} distinct chunks`);
      return [
        { scenario: '10 saves per entity', name: `texts embedded, ${entities.toLocaleString('en-US')} entities × ${SAVES} saves`, value: counts.texts, unit: 'texts', target: { op: '<=', value: Math.floor(1.05 * distinct), unit: 'texts (1.05 × distinct chunks)' }, comparison: { name: 'distinct chunks', value: distinct }, status: 'ok', note: `${counts.calls} endpoint calls; ${cached} served from the cache` },
      ];
    } finally {
      await sink.close();
      await deployment.cleanup();
    }
  },
};
