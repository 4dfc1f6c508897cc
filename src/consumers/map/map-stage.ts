import type { Config } from '../../config/schema.js';
import { ENTITY_TYPES } from '../../core/entities.js';
import { findRagsyncError, PermanentError } from '../../core/errors.js';
import { parseKey, type EntityKey } from '../../core/keys.js';
import type { DocumentRecord } from '../../core/records.js';
import type { InputRecord, OutputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import { sha256Hex } from '../../text/sha256.js';
import { mapEntity } from './mappers/index.js';
import { stableStringify } from './stable-json.js';

/** Header on the tombstone of an entity that is filtered out, saying which filter. */
export const FILTER_REASON_HEADER = 'ragsync-filter-reason';

export const MAP_INPUTS = ENTITY_TYPES.map((type) => `changes.${type}`);

export interface MapStageOptions {
  /** Clock for promotion expiry. @defaultValue Date.now */
  now?: () => number;
}

function tombstone(record: InputRecord, headers?: Record<string, string>): OutputRecord<DocumentRecord> {
  return { topic: 'documents', key: record.key, value: null, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt, ...(headers ? { headers } : {}) };
}

/** The entity of a record, from its key; the key's entity type must agree with the `changes.<type>` topic. */
function entityOf(record: InputRecord): EntityKey {
  const key = parseKey(record.key);
  const topicType = record.topic.startsWith('changes.') ? record.topic.slice('changes.'.length) : undefined;
  if (topicType !== undefined && topicType !== key.entityType) {
    throw new PermanentError(`record key "${record.key}" is a ${key.entityType} key but arrived on ${record.topic}`, { code: 'key_topic_mismatch' });
  }
  return key;
}

function checkIdentity(value: Record<string, unknown>, key: EntityKey, recordKey: string): void {
  const mismatch =
    (typeof value.tenant === 'string' && value.tenant !== key.tenant) ||
    (typeof value.entity_id === 'string' && value.entity_id.normalize('NFC') !== key.entityId) ||
    (typeof value.store_id === 'number' && value.store_id !== key.storeId);
  if (mismatch) {
    throw new PermanentError(`value of record "${recordKey}" names another entity (tenant, entity_id or store_id differ from the key)`, { code: 'key_value_mismatch' });
  }
}

function mapRecord(record: InputRecord, config: Pick<Config, 'filters'>, now: number): OutputRecord<DocumentRecord> {
  const key = entityOf(record);
  if (record.value === null) return tombstone(record);
  if (typeof record.value !== 'object') throw new PermanentError(`value of record "${record.key}" is not an object`, { code: 'validation_failed' });
  checkIdentity(record.value as Record<string, unknown>, key, record.key);

  const outcome = mapEntity(key.entityType, record.value, { filters: config.filters, now });
  if (outcome.kind === 'filtered') return tombstone(record, { [FILTER_REASON_HEADER]: outcome.reason });

  const { document } = outcome;
  const payloadJson = stableStringify(document.payload);
  const value: DocumentRecord = {
    doc_key: record.key,
    tenant: key.tenant,
    entity_type: key.entityType,
    entity_id: key.entityId,
    store_id: key.storeId,
    source_version: record.sourceVersion,
    occurred_at: record.occurredAt,
    doc_type: document.docType,
    doc_subtype: document.docSubtype,
    title: document.title,
    url: document.url,
    text: document.text,
    text_hash: sha256Hex(document.text),
    payload_json: payloadJson,
    payload_hash: sha256Hex(payloadJson),
  };
  return { topic: 'documents', key: record.key, value, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt };
}

/**
 * The map stage (docs/design.md §3): change event → Document on `documents`, same key and version.
 * A tombstone, or an entity the filters leave out, becomes a tombstone, so an entity that becomes
 * filtered out is removed from the index. A malformed record fails alone with a PermanentError.
 * Pure: no I/O; the only input besides the records is the clock (promotion expiry).
 */
export function createMapStage(config: Pick<Config, 'filters'>, options: MapStageOptions = {}): StageDefinition<unknown, DocumentRecord> {
  const clock = options.now ?? Date.now;
  return {
    name: 'map',
    group: 'map',
    inputs: [...MAP_INPUTS],
    output: 'documents',
    async process(records) {
      const now = clock();
      return records.map((record): RecordResult<DocumentRecord> => {
        try {
          return { ok: true, outputs: [mapRecord(record, config, now)] };
        } catch (error) {
          // A bug in a mapper is still this record's failure: permanent, never a crash of the batch.
          if (findRagsyncError(error)) return { ok: false, error };
          return { ok: false, error: new PermanentError(`map failed for "${record.key}": ${String(error)}`, { code: 'map_failed', cause: error }) };
        }
      });
    },
  };
}
