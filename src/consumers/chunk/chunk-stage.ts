import { STAGES } from '../../core/stages.js';
import type { Config } from '../../config/schema.js';
import { ConfigError, findRagsyncError, PermanentError } from '../../core/errors.js';
import type { ChunkSetRecord, DocumentRecord } from '../../core/records.js';
import type { InputRecord, OutputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import { approxTokenizer } from '../../text/approx-tokenizer.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { chunkText, type ChunkingOptions } from './chunker.js';
import { contextHeader, embeddingHash, embeddingText } from './context-header.js';

/**
 * The chunking options for a document whose chunks are embedded after a context header of
 * `headerTokens`: the header's tokens come off each chunk's budget, so header and chunk together
 * stay within `maxTokens` (what the model reads; it truncates the rest). At most a third of the
 * budget goes to the header: a header longer than that (digits and codes count many tokens) may
 * cost the end of a full chunk, rather than cutting every chunk of the document very short. The
 * overlap is kept below what is left.
 */
function withHeaderRoom(options: ChunkingOptions, headerTokens: number): ChunkingOptions {
  const maxTokens = Math.max(1, options.maxTokens - Math.min(headerTokens, Math.floor(options.maxTokens / 3)));
  return { ...options, maxTokens, overlapTokens: Math.min(options.overlapTokens, maxTokens - 1) };
}

/**
 * Builds the ChunkSet of one document: header fields copied, chunks `docKey#n` from n = 0. A
 * chunk's `text` is the readable chunk; its `hash` covers what the embed stage embeds, the
 * document's context header and the chunk text (context-header.ts).
 */
export function toChunkSet(document: DocumentRecord, tokenizer: Tokenizer, options: ChunkingOptions): ChunkSetRecord {
  const { text, ...header } = document;
  const context = contextHeader(document);
  const result = chunkText(text, tokenizer, withHeaderRoom(options, tokenizer.count(context)));
  return {
    ...header,
    chunks: result.chunks.map((chunk, index) => ({
      id: `${document.doc_key}#${index}`,
      index,
      text: chunk.text,
      hash: embeddingHash(embeddingText(context, chunk.text)),
      token_count: tokenizer.count(chunk.text),
    })),
    total_chunks: result.total,
    truncated: result.truncated,
  };
}

function chunkRecord(record: InputRecord<DocumentRecord>, tokenizer: Tokenizer, options: ChunkingOptions): OutputRecord<ChunkSetRecord> {
  const base = { topic: 'chunks', key: record.key, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt };
  if (record.value === null) return { ...base, value: null };
  if (typeof record.value.text !== 'string' || record.value.doc_key !== record.key) {
    throw new PermanentError(`document "${record.key}" is malformed: its doc_key differs from the record key or it has no text`, { code: 'validation_failed' });
  }
  return { ...base, value: toChunkSet(record.value, tokenizer, options) };
}

/**
 * The chunk stage (docs/design.md §3): Document → ChunkSet on `chunks`, same key and version; a
 * tombstone stays a tombstone. `tokenizer` defaults to the approximation (approx-tokenizer.ts);
 * pass the embedding model's own tokenizer for exact sizes. Changing the tokenizer or the chunking
 * settings moves chunk boundaries, so chunk hashes change and documents are embedded again; so
 * does a change of a document's context header (its title, category path or attributes), which
 * every chunk of the document is embedded with.
 */
export function createChunkStage(config: Pick<Config, 'chunking'>, tokenizer: Tokenizer = approxTokenizer): StageDefinition<DocumentRecord, ChunkSetRecord> {
  const options: ChunkingOptions = { ...config.chunking };
  if (options.overlapTokens >= options.maxTokens) {
    throw new ConfigError(`chunking.overlapTokens (${options.overlapTokens}) must be below chunking.maxTokens (${options.maxTokens})`);
  }
  return {
    name: STAGES.chunk.name,
    group: STAGES.chunk.group,
    inputs: [...STAGES.chunk.inputs],
    output: STAGES.chunk.output,
    async process(records) {
      return records.map((record): RecordResult<ChunkSetRecord> => {
        try {
          return { ok: true, outputs: [chunkRecord(record, tokenizer, options)] };
        } catch (error) {
          if (findRagsyncError(error)) return { ok: false, error };
          return { ok: false, error: new PermanentError(`chunk failed for "${record.key}": ${String(error)}`, { code: 'chunk_failed', cause: error }) };
        }
      });
    },
  };
}
