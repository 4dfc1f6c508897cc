import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { ConfigError, SystemError } from '../../../src/core/errors.js';
import { createEmbedder } from '../../../src/embedders/index.js';
import { EmbeddingsServer } from './openai-server.js';

const empty = mkdtempSync(join(tmpdir(), 'ragsync-no-model-'));
const embedderConfig = (env: Record<string, string>) => loadConfig({ env: { RAGSYNC_MODEL_DIR: join(empty, 'all-minilm-l6-v2'), ...env } }).embedder;

afterAll(() => rmSync(empty, { recursive: true, force: true }));

describe('choosing an embedder', () => {
  describe('when nothing is configured and no model folder exists', () => {
    it('falls back to the hashing embedder and says why', async () => {
      const { embedder, note } = await createEmbedder(embedderConfig({}));
      expect(embedder.id).toBe('hashing-v1-384');
      expect(note).toContain('lexical');
      expect(note).toContain('ragsync model fetch');
    });

    it('gives the hashing embedder the configured size', async () => {
      const { embedder } = await createEmbedder(embedderConfig({ EMBEDDING_DIMENSIONS: '128' }));
      expect(embedder.dimension).toBe(128);
    });
  });

  describe('when EMBEDDING_URL is set', () => {
    it('uses the endpoint and learns its vector size', async () => {
      const server = await EmbeddingsServer.start({ dimension: 24 });
      try {
        const { embedder, note } = await createEmbedder(embedderConfig({ EMBEDDING_URL: server.url, EMBEDDING_MODEL: 'nomic-embed-text' }));
        expect(embedder.id).toBe('openai:nomic-embed-text');
        expect(embedder.dimension).toBe(24);
        expect(note).toContain('EMBEDDING_URL is set');
        expect(server.requests).toHaveLength(1);
        expect(server.violations).toEqual([]);
      } finally {
        await server.close();
      }
    });

    it('refuses to start without a model name', async () => {
      await expect(createEmbedder(embedderConfig({ EMBEDDING_URL: 'http://127.0.0.1:9/v1' }))).rejects.toBeInstanceOf(ConfigError);
    });
  });

  describe('when a kind is asked for explicitly', () => {
    it('refuses openai without a URL', async () => {
      await expect(createEmbedder(embedderConfig({ EMBEDDER: 'openai' }))).rejects.toThrow(/EMBEDDING_URL/);
    });

    it('refuses onnx without a model folder, naming the command that makes one', async () => {
      const error = await createEmbedder(embedderConfig({ EMBEDDER: 'onnx' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).message).toContain('ragsync model fetch');
    });
  });
});

describe('the fallback of EMBEDDER=auto', () => {
  it('is flagged, so callers log it as a warning, and says what it costs', async () => {
    const { embedder, note, fallback } = await createEmbedder(embedderConfig({}));
    expect(fallback).toBe(true);
    expect(note).toMatch(/^EMBEDDER=auto fell back to the embedder hashing-v1-384 /);
    expect(note).toContain('A collection built with another model will refuse its hashing-v1-384 vectors');
    expect(embedder.kind).toBe('lexical');
  });

  it('is no fallback when the hashing embedder is asked for', async () => {
    const { embedder, note, fallback } = await createEmbedder(embedderConfig({ EMBEDDER: 'hashing' }));
    expect(embedder.id).toBe('hashing-v1-384');
    expect(fallback).toBe(false);
    expect(note).toContain('because EMBEDDER=hashing');
    expect(note).not.toContain('fell back');
  });

  it('is no fallback when auto finds an endpoint', async () => {
    const server = await EmbeddingsServer.start({ dimension: 8 });
    try {
      const { fallback } = await createEmbedder(embedderConfig({ EMBEDDING_URL: server.url, EMBEDDING_MODEL: 'nomic-embed-text' }));
      expect(fallback).toBe(false);
    } finally {
      await server.close();
    }
  });
});
