import type { SinkRecord } from '../../../src/core/sink.js';
import type { VectorStore } from '../../../src/stores/vector-store.js';
import { makeVectorSet, type VectorSetOptions } from '../../support/vector-sets.js';
import type { TargetState } from './conformance.js';

/** Records of the store's `vectors` topic, as the embed stage writes them. */
export const OCCURRED_AT = 1_700_000_000_000;

export function saveRecord(entityId: string, version: bigint, options: Partial<VectorSetOptions> = {}): SinkRecord<unknown> {
  const set = makeVectorSet({ entityId, version, dimension: 8, ...options });
  return { topic: 'vectors', key: set.doc_key, value: set, sourceVersion: version, occurredAt: OCCURRED_AT };
}

export function removeRecord(entityId: string, version: bigint): SinkRecord<unknown> {
  return { topic: 'vectors', key: saveRecord(entityId, version).key, value: null, sourceVersion: version, occurredAt: OCCURRED_AT };
}

/** A VectorSet whose payload is not JSON: the store refuses it alone. */
export function refusedRecord(entityId: string, version: bigint): SinkRecord<unknown> {
  const record = saveRecord(entityId, version);
  return { ...record, value: { ...(record.value as object), payload_json: '{not json' } };
}

/** What a store holds for a document, read through a store instance of its own. */
export async function readDocument(store: VectorStore, docKey: string): Promise<TargetState> {
  const { head } = await store.getDocument(docKey);
  if (head === undefined) return undefined;
  return { version: head.version, deleted: head.deleted };
}
