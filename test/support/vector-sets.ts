import { createHash } from 'node:crypto';
import { formatKey } from '../../src/core/keys.js';
import type { EntityType } from '../../src/core/entities.js';
import { encodeVector, type VectorSetRecord } from '../../src/core/records.js';

export interface VectorSetOptions {
  tenant?: string;
  entityType?: EntityType;
  entityId: string;
  storeId?: number;
  docType?: string;
  version: bigint;
  chunks?: number;
  dimension?: number;
  /** Index of the axis the document's vectors lean towards, so a search can tell documents apart. */
  axis?: number;
  title?: string;
  payload?: Record<string, unknown>;
  touch?: boolean;
  modelId?: string;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A unit vector close to `axis`, slightly different per chunk. */
export function vectorNear(axis: number, dimension: number, wobble = 0): number[] {
  const values = Array.from({ length: dimension }, (_, i) => (i === axis % dimension ? 1 : 0.01 * ((i + wobble) % 3)));
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

/** A complete VectorSet record as the embed stage would produce it. */
export function makeVectorSet(options: VectorSetOptions): VectorSetRecord {
  const tenant = options.tenant ?? 'acme';
  const entityType = options.entityType ?? 'product';
  const storeId = options.storeId ?? 1;
  const dimension = options.dimension ?? 8;
  const docKey = formatKey({ tenant, entityType, entityId: options.entityId, storeId });
  const title = options.title ?? `Item ${options.entityId} v${options.version}`;
  const chunks = Array.from({ length: options.chunks ?? 2 }, (_, index) => {
    const text = `${title}, part ${index + 1}: sturdy walnut shelving for small rooms.`;
    return {
      id: `${docKey}#${index}`,
      index,
      text,
      hash: sha256(text),
      token_count: 12,
      vector: encodeVector(vectorNear(options.axis ?? 0, dimension, index)),
    };
  });
  const payloadJson = JSON.stringify(options.payload ?? { sku: options.entityId, price: 10 });
  return {
    doc_key: docKey,
    tenant,
    entity_type: entityType,
    entity_id: options.entityId,
    store_id: storeId,
    source_version: options.version,
    occurred_at: 1_700_000_000_000,
    doc_type: options.docType ?? 'product',
    doc_subtype: null,
    title,
    url: `https://shop.example/${encodeURIComponent(options.entityId)}`,
    text_hash: sha256(chunks.map((chunk) => chunk.text).join('\n')),
    payload_json: payloadJson,
    payload_hash: sha256(payloadJson),
    model_id: options.modelId ?? 'test-model',
    dimension,
    chunks,
    touch: options.touch ?? false,
  };
}
