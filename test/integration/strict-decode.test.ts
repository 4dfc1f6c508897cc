import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPublish } from '../../src/producers/publish/run-publish.js';
import { KafkaChangeSink } from '../../src/kafka/producer.js';
import { PipelineHarness } from '../support/pipeline-harness.js';
import { CONFLUENT_PYTHON, pythonEnv } from '../support/python-env.js';

/**
 * What ragsync writes must be readable by any strict consumer, not only by itself: every record of
 * every topic a pipeline run wrote (change topics, map state, documents, chunks, vectors) is read
 * back with Confluent's own Python client and decoded with its AvroDeserializer (fastavro, strict
 * UTF-8). The input is full of text that is easy to get wrong: combining marks, emoji sequences,
 * right-to-left scripts, astral-plane characters, and one lone surrogate, which must be refused at
 * the edge naming its field, never written as bytes no other client can decode.
 */
const run = promisify(execFile);
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/python/strict_decode.py');
const TENANT = 'unicode';

const line = (type: string, id: string, version: number, data: Record<string, unknown>) => JSON.stringify({ type, tenant: TENANT, store_id: 1, id, action: 'save', source_version: version, data });

const LINES = [
  line('product', 'tea-set', 10, {
    sku: 'TEA-01',
    name: 'Café crème tea set – 茶具 🍵',
    description: '<p>Cafe\u0301 glaze (a combining accent), a family emoji 👨‍👩‍👧 and 𝒻𝒶𝓃𝒸𝓎 letters from the astral plane.</p><p>Arabic: مصباح نحاسي. Hebrew: מנורה.</p>',
    price: 39.5,
  }),
  line('product', 'lampe-à-huile', 11, { sku: 'LAMP-ÄÖÜ', name: 'Lampe à huile «Ørsted»', description: '<p>Replacement char \ufffd stays as it is; zero\u200bwidth space too.</p>' }),
  line('category', 'κουζίνα', 12, { name: 'Κουζίνα & τραπεζαρία', level: 2, is_active: true, description: '<p>Σκεύη για κάθε μέρα.</p>' }),
  line('cms_page', 'faq-日本', 13, { identifier: 'faq-日本', title: 'よくある質問', content: '<h2>配送</h2><p>通常3〜5営業日でお届けします。</p>' }),
];
const LONE_SURROGATE = line('product', 'broken-text', 14, { sku: 'BRK-1', name: 'Broken \ud800 name', description: '<p>ok</p>' });

describe('records every strict consumer can decode', () => {
  let harness: PipelineHarness;
  let python: string;

  beforeAll(async () => {
    python = await pythonEnv(CONFLUENT_PYTHON, (l) => console.log(l));
    harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '2' });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('refuses a lone surrogate naming its field, and writes only records Confluent’s Python deserializer decodes', async () => {
    await harness.start();
    const sink = new KafkaChangeSink(harness.kafka, harness.config);
    async function* lines() {
      yield* [...LINES, LONE_SURROGATE];
    }
    const summary = await runPublish(lines(), { sink, now: Date.now(), storesOf: () => [0] });
    await sink.close();
    expect(summary.rejections).toEqual([{ line: LINES.length + 1, issues: [expect.objectContaining({ path: 'data.name' })] }]);
    expect(summary.published).toBe(LINES.length);
    await harness.settle();

    const { stdout } = await run(python, [SCRIPT, process.env.KAFKA_BROKERS!, process.env.SCHEMA_REGISTRY_URL!, harness.config.topics.prefix], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }).catch((error: { stdout?: string; stderr?: string }) => {
      // Exit 1 means findings: they are in the report on stdout.
      if (error.stdout) return { stdout: error.stdout };
      throw new Error(`strict decoder failed: ${error.stderr}`);
    });
    const report = JSON.parse(stdout) as { topics: Record<string, { records: number; decoded: number; tombstones: number }>; failures: unknown[] };
    expect(report.failures).toEqual([]);
    const decoded = (logical: string) => report.topics[`${harness.config.topics.prefix}${logical}`]?.decoded ?? 0;
    for (const topic of ['changes.product', 'changes.category', 'changes.cms_page', 'map.state', 'documents', 'chunks', 'vectors']) {
      expect(decoded(topic), topic).toBeGreaterThan(0);
    }
    expect(decoded('changes.product')).toBe(2);
  });
});
