import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createChunkStage } from '../../../src/consumers/chunk/chunk-stage.js';
import { contextHeader } from '../../../src/consumers/chunk/context-header.js';
import { ConfigError, PermanentError } from '../../../src/core/errors.js';
import type { ChunkSetRecord, DocumentRecord } from '../../../src/core/records.js';
import type { InputRecord, RecordResult, StageContext } from '../../../src/core/stage.js';
import type { Tokenizer } from '../../../src/text/tokenizer.js';
import { DOC_KEY, document, pageText, SECTIONS } from './samples.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };
const chunking = { maxTokens: 256, overlapTokens: 32, maxChunksPerDocument: 200 };

function input(value: DocumentRecord | null): InputRecord<DocumentRecord> {
  return { topic: 'documents', partition: 3, offset: '40', key: DOC_KEY, value, headers: {}, sourceVersion: 1_767_225_600_000_007n, occurredAt: Date.UTC(2026, 10, 21, 15, 0) };
}

function only(results: RecordResult<ChunkSetRecord>[]) {
  const [result] = results;
  if (!result?.ok) throw new Error(`expected success, got ${String(result?.error)}`);
  return result.outputs[0]!;
}

describe('the chunk stage', () => {
  it('is declared with group chunk, documents in, chunks out', () => {
    const stage = createChunkStage({ chunking });
    expect([stage.name, stage.group, stage.inputs, stage.output]).toEqual(['chunk', 'chunk', ['documents'], 'chunks']);
  });

  it('refuses an overlap that is not below maxTokens', () => {
    expect(() => createChunkStage({ chunking: { ...chunking, overlapTokens: 256 } })).toThrow(ConfigError);
  });

  describe('when a document arrives', () => {
    it('writes its chunk set under the same key and version, with the header fields copied', async () => {
      const doc = document(pageText());
      const output = only(await createChunkStage({ chunking }).process([input(doc)], context));
      expect(output).toMatchObject({ topic: 'chunks', key: DOC_KEY, sourceVersion: doc.source_version, occurredAt: doc.occurred_at });
      const { text: _text, ...header } = doc;
      expect(output.value).toMatchObject(header);
      expect(output.value).not.toHaveProperty('text');
    });

    it('numbers chunks docKey#n from 0, hashes what is embedded (header and chunk text) with sha256 and counts its tokens', async () => {
      const output = only(await createChunkStage({ chunking }).process([input(document(pageText()))], context));
      const set = output.value!;
      const header = contextHeader(set);
      expect(set.chunks).toHaveLength(SECTIONS.length);
      expect(set.total_chunks).toBe(SECTIONS.length);
      expect(set.truncated).toBe(false);
      set.chunks.forEach((chunk, n) => {
        expect(chunk.id).toBe(`${DOC_KEY}#${n}`);
        expect(chunk.index).toBe(n);
        expect(chunk.text.startsWith(header)).toBe(false);
        expect(chunk.hash).toBe(createHash('sha256').update(`${header}\n\n${chunk.text}`).digest('hex'));
        expect(chunk.token_count).toBeGreaterThan(0);
        expect(chunk.token_count).toBeLessThanOrEqual(chunking.maxTokens);
      });
    });

    it('caps the chunks per document and says it did', async () => {
      const stage = createChunkStage({ chunking: { ...chunking, maxChunksPerDocument: 3 } });
      const set = only(await stage.process([input(document(pageText()))], context)).value!;
      expect(set.chunks.map((c) => c.index)).toEqual([0, 1, 2]);
      expect(set.total_chunks).toBe(SECTIONS.length);
      expect(set.truncated).toBe(true);
    });

    it('sizes chunks with the tokenizer it is given, leaving room for the context header', async () => {
      const words: Tokenizer = { id: 'words', count: (text) => text.split(/\s+/).filter(Boolean).length };
      const stage = createChunkStage({ chunking: { maxTokens: 20, overlapTokens: 0, maxChunksPerDocument: 200 } }, words);
      const set = only(await stage.process([input(document(pageText()))], context)).value!;
      const headerWords = words.count(contextHeader(set));
      expect(headerWords).toBeGreaterThan(0);
      expect(set.chunks.length).toBeGreaterThan(SECTIONS.length);
      for (const chunk of set.chunks) {
        expect(chunk.token_count).toBe(words.count(chunk.text));
        expect(chunk.token_count + headerWords).toBeLessThanOrEqual(20);
      }
    });

    it('gives a long header at most a third of the budget', async () => {
      const words: Tokenizer = { id: 'words', count: (text) => text.split(/\s+/).filter(Boolean).length };
      const stage = createChunkStage({ chunking: { maxTokens: 30, overlapTokens: 0, maxChunksPerDocument: 500 } }, words);
      const longTitle = Array.from({ length: 40 }, (_, i) => String(i)).join(' ');
      const set = only(await stage.process([input(document(pageText(), { title: longTitle }))], context)).value!;
      expect(words.count(contextHeader(set))).toBeGreaterThan(30);
      expect(Math.max(...set.chunks.map((c) => c.token_count))).toBe(20);
    });

    it('keeps the overlap below what the header leaves of a small budget', async () => {
      const words: Tokenizer = { id: 'words', count: (text) => text.split(/\s+/).filter(Boolean).length };
      const stage = createChunkStage({ chunking: { maxTokens: 8, overlapTokens: 7, maxChunksPerDocument: 500 } }, words);
      const [result] = await stage.process([input(document(pageText()))], context);
      expect(result!.ok).toBe(true);
    });

    it('writes an empty chunk set for a document without text', async () => {
      const set = only(await createChunkStage({ chunking }).process([input(document(''))], context)).value!;
      expect(set.chunks).toEqual([]);
      expect(set.total_chunks).toBe(0);
    });
  });

  describe('when a tombstone arrives', () => {
    it('writes a tombstone with the same key and version', async () => {
      const output = only(await createChunkStage({ chunking }).process([input(null)], context));
      expect(output).toEqual({ topic: 'chunks', key: DOC_KEY, value: null, sourceVersion: 1_767_225_600_000_007n, occurredAt: Date.UTC(2026, 10, 21, 15, 0) });
    });
  });

  describe('when a document is malformed', () => {
    it('fails that record alone with a PermanentError', async () => {
      const wrongKey = document('Some text.', { doc_key: 'alpine-outfitters/cms_page/other/1' });
      const results = await createChunkStage({ chunking }).process([input(wrongKey), input(document('Fine.'))], context);
      expect(results[0]!.ok).toBe(false);
      expect((results[0] as { error: unknown }).error).toBeInstanceOf(PermanentError);
      expect(results[1]!.ok).toBe(true);
    });
  });
});
