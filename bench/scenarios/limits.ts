import { loadConfig } from '../../src/config/index.js';
import { stackEnv, stackLayout } from '../../src/stack/layout.js';
import { measureKafka, measureModel, type KafkaLimits, type ModelLimits } from '../limits.js';
import type { BenchContext, Scenario } from './context.js';

export interface Limits {
  kafka: KafkaLimits;
  hashing: ModelLimits;
  minilm: ModelLimits;
}

/** The limits, measured once per run: the other scenarios compare with them. */
export function limits(context: BenchContext): Promise<Limits> {
  return context.once('limits', async () => {
    const config = loadConfig({ env: { ...stackEnv(stackLayout()), ...process.env } as Record<string, string> });
    const count = context.quick ? 5_000 : 100_000;
    context.say(`limits: raw Kafka produce and consume of ${count.toLocaleString('en-US')} records (kafkajs, 6 partitions, acks=all)…`);
    const kafka = await measureKafka(config.kafka.brokers, { count, partitions: 6, topic: `benchraw${Date.now().toString(36)}` });
    context.say(`  Kafka raw: produce ${Math.round(kafka.producePerSecond)}/s, consume ${Math.round(kafka.consumePerSecond)}/s (${(kafka.bytes / 1e6).toFixed(1)} MB)`);
    const batchSize = config.embedder.batchSize;
    context.say(`limits: raw model throughput, batches of ${batchSize} (embedder.batchSize, as the embed stage sends them)…`);
    const hashing = await measureModel(await context.endpoint.embedder('hashing'), { texts: context.quick ? 640 : 6_400, batchSize, model: 'hashing' });
    const minilm = await measureModel(await context.endpoint.embedder('minilm'), { texts: context.quick ? 64 : 640, batchSize, model: 'minilm' });
    context.say(`  model raw: hashing ${Math.round(hashing.textsPerSecond)} texts/s, MiniLM ${minilm.textsPerSecond.toFixed(1)} texts/s`);
    const result = { kafka, hashing, minilm };
    context.raw.limits = result;
    return result;
  });
}

export const limitsScenario: Scenario = {
  name: 'limits',
  about: "Kafka's raw produce and consume rate of the same records; the model's raw texts/s at ragsync's batch size",
  async run(context) {
    const l = await limits(context);
    return [
      { scenario: 'limits', name: 'Kafka raw produce (plain client, no processing)', value: l.kafka.producePerSecond, unit: 'records/s', status: 'ok' },
      { scenario: 'limits', name: 'Kafka raw consume (plain client, no processing)', value: l.kafka.consumePerSecond, unit: 'records/s', status: 'ok' },
      { scenario: 'limits', name: `hashing embedder raw, batches of ${l.hashing.batchSize}`, value: l.hashing.textsPerSecond, unit: 'texts/s', status: 'ok' },
      { scenario: 'limits', name: `MiniLM raw, batches of ${l.minilm.batchSize}`, value: l.minilm.textsPerSecond, unit: 'texts/s', status: 'ok' },
    ];
  },
};
