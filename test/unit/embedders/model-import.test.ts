import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemError } from '../../../src/core/errors.js';
import { fetchModel } from '../../../src/embedders/model-fetch.js';
import { MINILM, MODEL_FILES, missingModelFiles } from '../../../src/embedders/model-files.js';
import { importModel } from '../../../src/embedders/model-import.js';
import { OnnxEmbedder } from '../../../src/embedders/onnx.js';

/** What `model import` checks before it loads anything (the real run is in test/integration/embedders/onnx.test.ts). */
describe('importing a model of one’s own', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ragsync-import-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function write(dir: string, files: Record<string, string>): void {
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
  }
  const complete = {
    [MODEL_FILES.config]: JSON.stringify({ model_type: 'bert', hidden_size: 384 }),
    [MODEL_FILES.tokenizer]: JSON.stringify({ model: { type: 'WordPiece' } }),
    [MODEL_FILES.tokenizerConfig]: '{}',
    [MODEL_FILES.onnx]: '',
  };
  async function failure(promise: Promise<unknown>): Promise<Error> {
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SystemError);
    return error as Error;
  }

  it('names every file the folder lacks', async () => {
    const dir = join(root, 'download');
    write(dir, { [MODEL_FILES.config]: complete[MODEL_FILES.config], 'model.safetensors': '' });
    expect(missingModelFiles(dir)).toEqual(['tokenizer.json', 'tokenizer_config.json', 'onnx/model_quantized.onnx (or onnx/model.onnx)']);
    const error = await failure(importModel({ modelDir: dir, pooling: 'mean' }));
    expect(error.message).toContain(`${dir}: missing tokenizer.json, tokenizer_config.json, onnx/model_quantized.onnx (or onnx/model.onnx)`);
    expect(existsSync(join(dir, MODEL_FILES.info))).toBe(false);
  });

  it('says when the folder does not exist', async () => {
    expect((await failure(importModel({ modelDir: join(root, 'nowhere'), pooling: 'mean' }))).message).toContain('no such folder');
  });

  it('wants model_type and hidden_size in config.json, and a tokenizer.json of the tokenizers library', async () => {
    const dir = join(root, 'partial');
    write(dir, { ...complete, [MODEL_FILES.config]: JSON.stringify({ model_type: 'bert' }) });
    expect((await failure(importModel({ modelDir: dir, pooling: 'cls' }))).message).toContain('config.json has no hidden_size');
    write(dir, { [MODEL_FILES.config]: JSON.stringify({ hidden_size: 384 }) });
    expect((await failure(importModel({ modelDir: dir, pooling: 'cls' }))).message).toContain('config.json has no model_type');
    write(dir, { [MODEL_FILES.config]: complete[MODEL_FILES.config], [MODEL_FILES.tokenizer]: '{"vocab": {}}' });
    expect((await failure(importModel({ modelDir: dir, pooling: 'cls' }))).message).toContain('tokenizer.json has no model');
    write(dir, { [MODEL_FILES.tokenizer]: 'not json' });
    expect((await failure(importModel({ modelDir: dir, pooling: 'cls' }))).message).toContain('tokenizer.json is not JSON');
  });

  it('refuses an id with spaces', async () => {
    const dir = join(root, 'model');
    write(dir, complete);
    expect((await failure(importModel({ modelDir: dir, pooling: 'mean', id: 'my model' }))).message).toContain('--id "my model"');
  });

  it('leaves a folder `model fetch` prepared alone unless --force', async () => {
    const dir = join(root, 'fetched');
    write(dir, {
      ...complete,
      [MODEL_FILES.info]: JSON.stringify({ id: MINILM.id, dimension: 384, maxTokens: 256, source: `maven:${MINILM.groupId}:${MINILM.artifactId}:${MINILM.version}`, onnxSha256: '' }),
    });
    expect((await failure(importModel({ modelDir: dir, pooling: 'cls' }))).message).toContain(`holds ${MINILM.id}, prepared by \`ragsync model fetch\``);
  });

  it('is what the loader names too when a folder lacks a file', async () => {
    const dir = join(root, 'no-tokenizer');
    write(dir, { ...complete, [MODEL_FILES.tokenizer]: '' });
    rmSync(join(dir, MODEL_FILES.tokenizer));
    expect((await failure(OnnxEmbedder.load({ modelDir: dir }))).message).toContain('lacks tokenizer.json');
  });
});

describe('fetching into a folder that holds a model of one’s own', () => {
  it('refuses to replace it, with --force too', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ragsync-import-'));
    try {
      const dir = join(root, 'mine');
      mkdirSync(join(dir, 'onnx'), { recursive: true });
      for (const file of [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.tokenizerConfig, MODEL_FILES.onnx]) writeFileSync(join(dir, file), '{}');
      writeFileSync(join(dir, MODEL_FILES.info), JSON.stringify({ id: 'onnx:e5', dimension: 384, maxTokens: 512, pooling: 'mean', source: 'import:mine', onnxSha256: '' }));
      for (const force of [false, true]) {
        const error = await fetchModel({ modelDir: dir, force }).catch((e: unknown) => e);
        expect((error as Error).message).toContain('holds onnx:e5 (import:mine), not one ragsync fetched; refusing to replace it');
      }
      expect(existsSync(join(dir, MODEL_FILES.info))).toBe(true);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
