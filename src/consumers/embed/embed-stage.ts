import { STAGES } from '../../core/stages.js';
import { classify } from '../../core/errors.js';
import { vectorToBytes } from '../../core/vector-bytes.js';
import type { ChunkSetRecord, VectorChunk, VectorSetRecord } from '../../core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import { contextHeader, embeddingHash, embeddingText } from '../chunk/context-header.js';

/**
 * What the model embeds for each chunk of a set: the document's context header and the chunk text
 * (context-header.ts), keyed by the sha256 of exactly that text. For a set the chunk stage wrote,
 * that is the chunk's own hash; a set written before its header changed form (an older chunk
 * stage, a replay of old `chunks`) is keyed by what is actually embedded, so the cache never
 * answers it with a vector of some other text.
 */
function embeddingItems(set: ChunkSetRecord): Array<{ hash: string; text: string }> {
  const header = contextHeader(set);
  return set.chunks.map((chunk) => {
    const text = embeddingText(header, chunk.text);
    return { hash: embeddingHash(text), text };
  });
}

/**
 * Embeds chunks, calling the model only for chunks it has not embedded before. Implemented over an
 * Embedder and the Redis cache keyed by (model id, chunk hash) in src/embedders.
 */
export interface ChunkEmbedder {
  readonly modelId: string;
  readonly dimension: number;
  /** One vector per item, in order; `cached[i]` is true when item i needed no model call. */
  embed(items: Array<{ hash: string; text: string }>): Promise<{ vectors: Float32Array[]; cached: boolean[] }>;
}

/**
 * ChunkSet → VectorSet (docs/design.md §3). All chunks of a fetched slice are embedded in one call, so
 * the model sees micro-batches across records. A set whose every chunk came from the cache is a
 * "touch": no model call, but it is still forwarded with its new version and its vectors, so the
 * store's versions stay right and a replay of `vectors` alone rebuilds any store.
 *
 * An embedder outage (RetryableError) or a misconfiguration (SystemError) fails the whole slice and
 * the runner pauses and retries in place: `vectors` is never reordered. A refusal of one record's
 * texts (PermanentError) is isolated by embedding record by record, so only that record goes to the
 * DLQ.
 */
export function createEmbedStage(embedder: ChunkEmbedder): StageDefinition<ChunkSetRecord, VectorSetRecord> {
  function toVectorSet(set: ChunkSetRecord, vectors: Float32Array[], cached: boolean[]): VectorSetRecord {
    const chunks: VectorChunk[] = set.chunks.map((chunk, i) => ({ ...chunk, vector: vectorToBytes(vectors[i]!) }));
    const { chunks: _drop, total_chunks: _total, truncated: _truncated, ...header } = set;
    // A set without chunks (its text became empty) is never a touch: its old points must go.
    return { ...header, model_id: embedder.modelId, dimension: embedder.dimension, chunks, touch: cached.length > 0 && cached.every(Boolean) };
  }

  async function embedRecords(records: InputRecord<ChunkSetRecord>[]): Promise<RecordResult<VectorSetRecord>[]> {
    const items = records.flatMap((r) => (r.value === null ? [] : embeddingItems(r.value)));
    const { vectors, cached } = items.length > 0 ? await embedder.embed(items) : { vectors: [], cached: [] };
    let next = 0;
    return records.map((record) => {
      if (record.value === null) {
        return { ok: true, outputs: [{ topic: 'vectors', key: record.key, value: null, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt }] };
      }
      const n = record.value.chunks.length;
      const set = toVectorSet(record.value, vectors.slice(next, next + n), cached.slice(next, next + n));
      next += n;
      return { ok: true, outputs: [{ topic: 'vectors', key: record.key, value: set, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt }] };
    });
  }

  return {
    name: STAGES.embed.name,
    group: STAGES.embed.group,
    inputs: [...STAGES.embed.inputs],
    output: STAGES.embed.output,
    async process(records) {
      try {
        return await embedRecords(records);
      } catch (error) {
        if (classify(error) !== 'permanent' || records.length === 1) throw error;
        // Find the record the model refused; the others go on.
        const results: RecordResult<VectorSetRecord>[] = [];
        for (const record of records) {
          try {
            results.push(...(await embedRecords([record])));
          } catch (single) {
            if (classify(single) !== 'permanent') throw single;
            results.push({ ok: false, error: single });
          }
        }
        return results;
      }
    },
  };
}
