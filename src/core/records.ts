import type { EntityType } from './entities.js';
import { bytesToVector, vectorToBytes } from './vector-bytes.js';

/**
 * The values of the pipeline's own compacted topics: `documents`, `chunks`, `vectors`. Field names
 * are the Avro field names (snake_case), so a decoded record is used as it is.
 *
 * Every record carries the identity of its document (`doc_key`, which is also the record key) and
 * the `source_version` of the change that produced it: versions travel unchanged from the change
 * event to the store, which holds the guard (docs/design.md §2).
 */
export interface DocumentHeader {
  doc_key: string;
  tenant: string;
  entity_type: EntityType;
  entity_id: string;
  store_id: number;
  source_version: bigint;
  /** Epoch milliseconds at the source; used for the source-to-indexed latency. */
  occurred_at: number;
  doc_type: string;
  doc_subtype: string | null;
  title: string;
  url: string | null;
  /** sha256 hex of `text`: unchanged text means no embedding call (a "touch"). */
  text_hash: string;
  /**
   * JSON object of the fields that go to the store's payload but never into embedded text:
   * metadata such as sku, categories, brand, and live fields such as price and stock.
   */
  payload_json: string;
  /** sha256 hex of `payload_json`. */
  payload_hash: string;
}

/** Output of map: one document per entity and store. */
export interface DocumentRecord extends DocumentHeader {
  /** Readable text to embed: never contains live fields (price, qty, stock status). */
  text: string;
}

export interface Chunk {
  /** `docKey#n`, deterministic. */
  id: string;
  index: number;
  text: string;
  /** sha256 hex of the embedded text (context header + chunk text): the embedding cache key together with the model id. */
  hash: string;
  token_count: number;
}

/** Output of chunk: all chunks of one document in one record. */
export interface ChunkSetRecord extends DocumentHeader {
  chunks: Chunk[];
  /** Chunks the document would have had without the per-document cap. */
  total_chunks: number;
  truncated: boolean;
}

export interface VectorChunk extends Chunk {
  /** float32 little-endian, `dimension` values. */
  vector: Buffer;
}

/** Output of embed. */
export interface VectorSetRecord extends DocumentHeader {
  model_id: string;
  dimension: number;
  chunks: VectorChunk[];
  /** True when the text was unchanged and no embedding call was needed. */
  touch: boolean;
}

/** Header names carried by tombstones and DLQ/retry records. */
export const HEADERS = {
  sourceVersion: 'ragsync-source-version',
  occurredAt: 'ragsync-occurred-at',
  correlationId: 'ragsync-correlation-id',
  origTopic: 'ragsync-original-topic',
  origPartition: 'ragsync-original-partition',
  origOffset: 'ragsync-original-offset',
  attempt: 'ragsync-attempt',
  errorClass: 'ragsync-error-class',
  errorCode: 'ragsync-error-code',
  errorMessage: 'ragsync-error-message',
  firstFailureAt: 'ragsync-first-failure-at',
  /** Retry records: when the record may be tried again (ISO 8601 with milliseconds). */
  dueAt: 'ragsync-due-at',
  /** Retry records: the tier it waits in (0 = the first delay). */
  retryTier: 'ragsync-retry-tier',
  /** Records sent back by `dlq replay`: the DLQ record they came from (`<group>:<partition>:<offset>`). */
  replayOf: 'ragsync-replay-of',
  stage: 'ragsync-stage',
} as const;

/** A vector's bytes as a vector set carries them (vector-bytes.ts: float32 little-endian). */
export function encodeVector(values: ArrayLike<number>): Buffer {
  return vectorToBytes(Float32Array.from(values));
}

/** The inverse of {@link encodeVector} (a copy: the bytes may not be 4-byte aligned). */
export const decodeVector = bytesToVector;
