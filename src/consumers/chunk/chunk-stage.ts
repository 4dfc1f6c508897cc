import { STAGES } from '../../core/stages.js';
import type { Config } from '../../config/schema.js';
import { ConfigError, findRagsyncError, PermanentError } from '../../core/errors.js';
import type { ChunkSetRecord, DocumentRecord } from '../../core/records.js';
import type { InputRecord, OutputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import { approxTokenizer } from '../../text/approx-tokenizer.js';
import { sha256Hex } from '../../text/sha256.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { chunkText, type ChunkingOptions } from './chunker.js';

/** Builds the ChunkSet of one document: header fields copied, chunks `docKey#n` from n = 0. */
export function toChunkSet(document: DocumentRecord, tokenizer: Tokenizer, options: ChunkingOptions): ChunkSetRecord {
  const { text, ...header } = document;
  const result = chunkText(text, tokenizer, options);
  return {
    ...header,
    chunks: result.chunks.map((chunk, index) => ({
      id: `${document.doc_key}#${index}`,
      index,
      text: chunk.text,
      hash: sha256Hex(chunk.text),
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
 * settings moves chunk boundaries, so chunk hashes change and documents are embedded again.
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
