import { v5 as uuidv5 } from 'uuid';
import { PermanentError } from '../core/errors.js';
import { decodeVector, type VectorSetRecord } from '../core/records.js';
import type { DocumentPayload, PointPayload } from './vector-store.js';

/**
 * Namespace of every point id: a point's id is UUIDv5(chunk id) in it, so a chunk keeps its point
 * across saves, stores and rebuilds. Never change it: every stored point would move.
 */
export const POINT_ID_NAMESPACE = '6f1c2b7e-3d4a-5e8f-9a0b-1c2d3e4f5a6b';

/** Namespace of head record ids (Qdrant needs UUID or integer ids). */
export const HEAD_ID_NAMESPACE = 'a4e7d2c1-8b3f-5a6e-9c0d-2e1f3a4b5c6d';

export function pointId(chunkId: string): string {
  return uuidv5(chunkId, POINT_ID_NAMESPACE);
}

export function headId(docKey: string): string {
  return uuidv5(docKey, HEAD_ID_NAMESPACE);
}

export interface PointToWrite {
  id: string;
  /** float32, as the vector travelled; a backend that needs plain numbers converts at its edge. */
  vector: Float32Array;
  payload: PointPayload;
}

function parsePayloadJson(set: VectorSetRecord): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(set.payload_json === '' ? '{}' : set.payload_json);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch (cause) {
    throw new PermanentError(`payload_json of ${set.doc_key} is not valid JSON`, { code: 'store_payload_invalid', cause });
  }
  throw new PermanentError(`payload_json of ${set.doc_key} is not a JSON object`, { code: 'store_payload_invalid' });
}

/**
 * Payload order of precedence: the document's fixed fields, then aspect fields at least as new as
 * the save (`overlay`), then the rest of `payload_json`.
 */
export function documentPayload(set: VectorSetRecord, overlay: Record<string, unknown>): DocumentPayload {
  return {
    ...parsePayloadJson(set),
    ...overlay,
    tenant: set.tenant,
    doc_key: set.doc_key,
    entity_type: set.entity_type,
    entity_id: set.entity_id,
    doc_type: set.doc_type,
    doc_subtype: set.doc_subtype,
    store_id: set.store_id,
    title: set.title,
    url: set.url,
    text_hash: set.text_hash,
    source_version: set.source_version.toString(),
    model_id: set.model_id,
  };
}

/** One point per chunk, each with the document's payload and its own chunk fields. */
export function buildPoints(set: VectorSetRecord, overlay: Record<string, unknown>): PointToWrite[] {
  const shared = documentPayload(set, overlay);
  return set.chunks.map((chunk) => {
    const vector = decodeVector(chunk.vector);
    if (vector.length !== set.dimension) {
      throw new PermanentError(
        `chunk ${chunk.id} has ${vector.length} vector values but the record says dimension ${set.dimension}`,
        { code: 'store_vector_length' },
      );
    }
    const payload: PointPayload = { ...shared, chunk_id: chunk.id, chunk_index: chunk.index, text: chunk.text, chunk_hash: chunk.hash };
    return { id: pointId(chunk.id), vector, payload };
  });
}

/**
 * What a point's lexical index holds (LanceDB's `text` column with its full-text index, Qdrant's
 * `bm25` sparse vector): the document's title, then the chunk's readable text. The context
 * header is not stored (the embed stage builds it), so the title stands in for it: every chunk of
 * a document matches its name. Both come from the saved document, never from live fields, so a
 * price or stock change leaves the lexical data as it was.
 */
export function lexicalText(payload: Pick<PointPayload, 'title' | 'text'>): string {
  return `${payload.title}\n${payload.text}`;
}
