import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { loadConfig } from '../../../src/config/index.js';
import { createChunkStage } from '../../../src/consumers/chunk/chunk-stage.js';
import { cachedChunkEmbedder } from '../../../src/consumers/embed/cached-chunk-embedder.js';
import { createEmbedStage } from '../../../src/consumers/embed/embed-stage.js';
import { createMapStage } from '../../../src/consumers/map/map-stage.js';
import type { ChunkSetRecord, DocumentRecord, VectorSetRecord } from '../../../src/core/records.js';
import type { InputRecord, RecordResult, StageContext } from '../../../src/core/stage.js';
import { createEmbedder } from '../../../src/embedders/index.js';
import { parsePublishLine } from '../../../src/producers/publish/ndjson-line.js';
import { createVectorStore } from '../../../src/stores/index.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };
const dir = mkdtempSync(join(tmpdir(), 'ragsync-eval-'));
const ENV = { EMBEDDER: 'hashing', LANCEDB_PATH: join(dir, 'lancedb'), RAGSYNC_COLLECTION: 'eval_test' };

function outputs<T>(results: RecordResult<unknown>[]): T[] {
  return results.flatMap((r) => (r.ok ? r.outputs.map((o) => o.value as T).filter((v) => v !== null) : []));
}

/** The sample catalog through map, chunk and embed (hashing embedder) into a LanceDB table. */
async function indexSampleCatalog(): Promise<void> {
  const config = loadConfig({ env: ENV });
  const { embedder } = await createEmbedder(config.embedder);
  const now = Date.UTC(2026, 11, 1);
  const changes: InputRecord[] = readFileSync(new URL('../../../samples/catalog.ndjson', import.meta.url), 'utf8')
    .split('\n')
    .filter((text) => text.trim() !== '')
    .flatMap((text, i) => {
      const result = parsePublishLine(text, i + 1, { now, storesOf: () => [1] });
      return result.ok ? result.messages.filter((m) => !m.type.startsWith('product_')) : [];
    })
    .map((m) => ({ topic: `changes.${m.type}`, partition: 0, offset: '0', key: m.key, value: m.value, headers: {}, sourceVersion: m.sourceVersion, occurredAt: m.occurredAt }));
  const wrap = <T>(topic: string, value: T & { doc_key: string; source_version: bigint }): InputRecord<T> => ({ topic, partition: 0, offset: '0', key: value.doc_key, value, headers: {}, sourceVersion: value.source_version, occurredAt: now });
  const documents = outputs<DocumentRecord>(await createMapStage(config, { now: () => now }).process(changes, context));
  const chunks = outputs<ChunkSetRecord>(await createChunkStage(config, embedder.tokenizer).process(documents.map((d) => wrap('documents', d)), context));
  const vectors = outputs<VectorSetRecord>(await createEmbedStage(cachedChunkEmbedder(embedder, undefined)).process(chunks.map((c) => wrap('chunks', c)), context));
  const store = createVectorStore(config.store);
  await store.connect();
  try {
    await store.ensureCollection({ dimension: embedder.dimension, distance: embedder.distance.toLowerCase() as 'cosine', modelId: embedder.id });
    await store.applyBatch(vectors.map((set) => ({ kind: 'vectors' as const, set })));
  } finally {
    await store.close();
  }
}

async function evalCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const logged: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void logged.push(parts.join(' ')));
  let err = '';
  try {
    const code = await runCli(['node', 'ragsync', 'eval', ...args], { writeErr: (t) => (err += t), writeOut: (t) => logged.push(t) });
    return { code, out: logged.join('\n'), err };
  } finally {
    log.mockRestore();
    process.exitCode = undefined;
  }
}

function evalFile(name: string, lines: object[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

describe('ragsync eval', () => {
  beforeAll(async () => {
    for (const [name, value] of Object.entries(ENV)) vi.stubEnv(name, value);
    await indexSampleCatalog();
  }, 60_000);

  afterEach(() => {
    process.exitCode = undefined;
  });

  afterAll(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  const findable = [
    { query: 'Cloudbreak waterproof hiking jacket', expect: ['demo/product/FH-1001/1'], tags: ['name'] },
    { query: 'Hearth cast-iron skillet', expect: ['demo/product/FH-4002/1'], tags: ['name'] },
  ];
  const unfindable = { query: 'Cloudbreak waterproof hiking jacket', expect: ['demo/product/NOT-THERE/1'] };

  it('explains the file format in its help', async () => {
    const { code, out } = await evalCli('--help');
    expect(code).toBe(0);
    expect(out).toContain('{"query": "which jacket has taped seams", "expect": ["demo/product/FH-1001/1"]');
    expect(out).toContain('recall@5');
    expect(out).toContain('--min-recall5');
  });

  it('prints recall@1, recall@5 and MRR of the queries against the index', async () => {
    const { code, out } = await evalCli(evalFile('found.jsonl', findable));
    expect(code).toBe(0);
    expect(out).toContain(`2 queries from ${join(dir, 'found.jsonl')} against LanceDB at ${ENV.LANCEDB_PATH}, table eval_test (hybrid search, embedder hashing-`);
    expect(out).toContain('recall@1 1.000   recall@5 1.000   MRR 1.000   (2 queries)');
    expect(out).toContain('no misses');
  });

  it('searches in the mode --mode names, over the mode of the configuration', async () => {
    const file = evalFile('modes.jsonl', findable);
    for (const mode of ['dense', 'lexical', 'hybrid']) {
      const { code, out } = await evalCli(file, '--mode', mode);
      expect(code).toBe(0);
      expect(out).toContain(`table eval_test (${mode} search, embedder hashing-`);
      expect(out).toContain('recall@1 1.000');
    }
    vi.stubEnv('RAGSYNC_SEARCH_MODE', 'lexical');
    try {
      expect((await evalCli(file)).out).toContain('(lexical search, embedder');
      const report = JSON.parse((await evalCli(file, '--json', '--mode', 'dense')).out) as { mode: string };
      expect(report.mode).toBe('dense');
    } finally {
      vi.stubEnv('RAGSYNC_SEARCH_MODE', '');
    }
  });

  it('finds a product by its SKU lexically', async () => {
    const { out } = await evalCli(evalFile('sku.jsonl', [{ query: 'FH-4002', expect: ['demo/product/FH-4002/1'] }]), '--mode', 'lexical');
    expect(out).toContain('recall@1 1.000');
  });

  it('names RAGSYNC_SEARCH_MODE when it holds no mode', async () => {
    vi.stubEnv('RAGSYNC_SEARCH_MODE', 'fuzzy');
    try {
      const { code, err } = await evalCli(evalFile('env-mode.jsonl', findable));
      // A configuration error, as for every other variable.
      expect(code).toBe(2);
      expect(err).toContain('RAGSYNC_SEARCH_MODE (search.mode)');
    } finally {
      vi.stubEnv('RAGSYNC_SEARCH_MODE', '');
    }
  });

  it('refuses an unknown --mode as a usage error', async () => {
    const { code, err } = await evalCli(evalFile('mode.jsonl', findable), '--mode', 'fuzzy');
    expect(code).toBe(2);
    expect(err).toContain("Allowed choices are dense, lexical, hybrid");
  });

  it('names each miss with what was expected and what came first', async () => {
    const { code, out } = await evalCli(evalFile('missed.jsonl', [...findable, unfindable]));
    expect(code).toBe(0);
    expect(out).toContain('recall@1 0.667   recall@5 0.667');
    expect(out).toContain('  "Cloudbreak waterproof hiking jacket"\n      expected demo/product/NOT-THERE/1: not in the first');
    expect(out).toContain('      first: demo/product/FH-1001/1 (Cloudbreak 3L waterproof hiking jacket)');
  });

  it('prints JSON with --json', async () => {
    const { out } = await evalCli(evalFile('json.jsonl', [...findable, unfindable]), '--json');
    const report = JSON.parse(out) as { queries: number; recall_at_1: number; results: Array<{ rank: number | null; first: string }> };
    expect(report.queries).toBe(3);
    expect(report.recall_at_1).toBeCloseTo(2 / 3);
    expect(report.results.map((r) => r.rank)).toEqual([1, 1, null]);
  });

  it('exits 1 when recall@5 is below --min-recall5, and 0 when it is met', async () => {
    const file = evalFile('threshold.jsonl', [...findable, unfindable]);
    expect((await evalCli(file, '--min-recall5', '0.9')).code).toBe(1);
    expect((await evalCli(file, '--min-recall5', '0.6')).code).toBe(0);
  });

  it('refuses a --min-recall5 outside 0 to 1 as a usage error', async () => {
    const { code, err } = await evalCli(evalFile('usage.jsonl', findable), '--min-recall5', '5');
    expect(code).toBe(2);
    expect(err).toContain('--min-recall5 must be a number from 0 to 1');
  });

  it('names the line of a malformed evaluation set', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"query": "tent", "expect": ["demo/product/FH-2001/1"]}\n{"query": "mat"}\n');
    const { code, err } = await evalCli(file);
    expect(code).toBe(1);
    expect(err).toContain(`${file} line 2: "expect" must be a non-empty list of document keys`);
  });
});
