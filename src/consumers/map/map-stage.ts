import type { Config } from '../../config/schema.js';
import { STAGES } from '../../core/stages.js';
import { findRagsyncError, PermanentError, SystemError } from '../../core/errors.js';
import { parseKey, type EntityKey } from '../../core/keys.js';
import type { DocumentRecord } from '../../core/records.js';
import type { Assignment, InputRecord, OutputRecord, RecordResult, StageDefinition } from '../../core/stage.js';
import type { Logger } from '../../observability/logger.js';
import type { MapStateRecord } from '../../schemas/zod/map-state.js';
import { sha256Hex } from '../../text/sha256.js';
import { mapEntity } from './mappers/index.js';
import { stableStringify } from './stable-json.js';
import { MAP_STATE_TOPIC, type AppliedChange, type ChangePartition, type MapVersionState } from './version-state.js';

/** Header on the tombstone of an entity that is filtered out, saying which filter. */
export const FILTER_REASON_HEADER = 'ragsync-filter-reason';

export const MAP_INPUTS: readonly string[] = STAGES.map.inputs;

export interface MapStageOptions {
  /** Clock for promotion expiry. @defaultValue Date.now */
  now?: () => number;
  /**
   * Per-key version state (docs/design.md §2): with it the stage drops records older than what it
   * applied and repairs the change topic; without it every record applies.
   */
  state?: MapVersionState;
  /** Where a repair that cannot be made is reported. */
  logger?: Pick<Logger, 'warn'>;
  /**
   * Largest change value copied into a `map.state` record; a larger one is applied with its
   * version only, and a regression of that key is dropped without a repair.
   * @defaultValue 4 MiB minus 64 KiB (room for the record's other fields within max.message.bytes)
   */
  maxStateValueBytes?: number;
}

/** What the map stage writes: documents, and with a version state also `map.state` records and repairs. */
export type MapOutput = DocumentRecord | MapStateRecord;

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

/** The failure of one record: permanent unless the error already says otherwise. */
function failure(record: InputRecord, error: unknown): RecordResult<never> {
  // A bug in a mapper is still this record's failure: permanent, never a crash of the batch.
  if (findRagsyncError(error)) return { ok: false, error };
  return { ok: false, error: new PermanentError(`map failed for "${record.key}": ${String(error)}`, { code: 'map_failed', cause: error }) };
}

function stateOutput(change: AppliedChange, offset: bigint): OutputRecord<MapStateRecord> {
  const value: MapStateRecord = {
    topic: change.topic,
    source_version: change.version,
    occurred_at: change.occurredAt,
    deleted: change.deleted,
    change_offset: offset,
    value: change.value,
    headers: change.headers,
  };
  return { topic: MAP_STATE_TOPIC, key: change.key, value, sourceVersion: change.version, occurredAt: change.occurredAt };
}

/** The newest applied record again, as written, so it is the key's last record in its change topic. */
function repairOutput(change: AppliedChange): OutputRecord<never> {
  return { topic: change.topic, key: change.key, value: null, rawValue: change.value, sourceVersion: change.version, occurredAt: change.occurredAt, headers: change.headers };
}

/**
 * Maps a slice under the version state (docs/design.md §2 "Monotonic from the first hop on"):
 *
 * - a record older than the key's applied version is dropped (`stale`). When it sits after the
 *   applied record in the change topic, compaction would keep it as the key's last record, so the
 *   applied record is republished (its exact bytes, or a tombstone): the repair. Reading the repair
 *   back gives an equal version, which applies and repairs nothing, so a repair never loops.
 * - any other record applies: its document, and a `map.state` record produced with it, so the
 *   runner commits the input only after both are acknowledged.
 */
async function processWithState(
  records: InputRecord[],
  state: MapVersionState,
  map: (record: InputRecord) => OutputRecord<DocumentRecord>,
  options: { logger?: Pick<Logger, 'warn'>; maxStateValueBytes: number },
): Promise<RecordResult<MapOutput>[]> {
  const partitions = new Map<string, ChangePartition>();
  for (const r of records) partitions.set(`${r.topic}\u0000${r.partition}`, { topic: r.topic, partition: r.partition });
  await state.ensure([...partitions.values()]);

  const results: RecordResult<MapOutput>[] = [];
  // Applied in this call: their state records are not in map.state yet.
  const appliedNow = new Map<string, AppliedChange>();
  const repairs = new Map<string, { index: number; topic: string; partition: number; key: string }>();
  for (const [index, record] of records.entries()) {
    try {
      entityOf(record);
      const offset = BigInt(record.offset);
      const known = state.get(record.topic, record.partition, record.key);
      if (known && record.sourceVersion < known.version) {
        // One repair per key and call is enough: it is produced after every record of the call.
        if (offset > known.offset && !repairs.has(record.key)) repairs.set(record.key, { index, topic: record.topic, partition: record.partition, key: record.key });
        results.push({ ok: true, outputs: [], stale: true });
        continue;
      }
      const outputs: OutputRecord<MapOutput>[] = [map(record)];
      // An equal version applies again (idempotence); its state record is written again unless
      // map.state holds it already (an older copy of the key's newest record, or a redelivery of
      // a restored one), so a replay group sharing map.state rewrites nothing.
      const unchanged = known !== undefined && record.sourceVersion === known.version && (offset < known.offset || (offset === known.offset && known.stored));
      if (!unchanged) {
        if (record.value !== null && !Buffer.isBuffer(record.raw)) {
          throw new SystemError(`the runner passed record "${record.key}" without its wire bytes (InputRecord.raw): the map stage cannot keep its version state`, { code: 'map_state_no_raw' });
        }
        const raw = record.value === null ? null : (record.raw as Buffer);
        const change: AppliedChange = {
          topic: record.topic,
          key: record.key,
          version: record.sourceVersion,
          occurredAt: record.occurredAt,
          deleted: record.value === null,
          value: raw !== null && raw.length > options.maxStateValueBytes ? null : raw,
          headers: record.headers,
        };
        state.apply(record.partition, offset, change);
        appliedNow.set(record.key, change);
        outputs.push(stateOutput(change, offset));
      }
      results.push({ ok: true, outputs });
    } catch (error) {
      results.push(failure(record, error));
    }
  }
  if (repairs.size === 0) return results;

  const fromState = await state.changes([...repairs.values()].filter((r) => !appliedNow.has(r.key)));
  for (const repair of repairs.values()) {
    const change = appliedNow.get(repair.key) ?? fromState.get(repair.key);
    const result = results[repair.index];
    if (!change || (!change.deleted && change.value === null) || !result?.ok) {
      // The value was too large to keep, or map.state lost the key's record: the stale record is
      // still dropped, but compaction may keep it as the key's last record.
      options.logger?.warn(
        { stage: 'map', key: repair.key, topic: repair.topic, partition: repair.partition },
        change ? 'stale record dropped; the newest applied value was too large to keep, so the change topic is not repaired' : 'stale record dropped; the newest applied record was not found in map.state, so the change topic is not repaired',
      );
      continue;
    }
    result.outputs.push(repairOutput(change));
  }
  return results;
}

/**
 * The map stage (docs/design.md §3): change event → Document on `documents`, same key and version.
 * A tombstone, or an entity the filters leave out, becomes a tombstone, so an entity that becomes
 * filtered out is removed from the index. A malformed record fails alone with a PermanentError.
 *
 * Without `options.state` it is pure (the only input besides the records is the clock, for
 * promotion expiry). With it, versions are monotonic per key from here on (docs/design.md §2):
 * older records are dropped and the change topic is repaired; see {@link processWithState}.
 */
export function createMapStage(config: Pick<Config, 'filters'>, options?: MapStageOptions & { state?: undefined }): StageDefinition<unknown, DocumentRecord>;
export function createMapStage(config: Pick<Config, 'filters'>, options: MapStageOptions): StageDefinition<unknown, MapOutput>;
export function createMapStage(config: Pick<Config, 'filters'>, options: MapStageOptions = {}): StageDefinition<unknown, MapOutput> {
  const clock = options.now ?? Date.now;
  const { state, logger } = options;
  const maxStateValueBytes = options.maxStateValueBytes ?? 4 * 1024 * 1024 - 64 * 1024;
  const inputs = [...MAP_INPUTS];
  return {
    name: STAGES.map.name,
    group: STAGES.map.group,
    inputs,
    output: STAGES.map.output,
    async process(records) {
      const now = clock();
      const map = (record: InputRecord) => mapRecord(record, config, now);
      if (state) return processWithState(records, state, map, { ...(logger ? { logger } : {}), maxStateValueBytes });
      return records.map((record): RecordResult<DocumentRecord> => {
        try {
          return { ok: true, outputs: [map(record)] };
        } catch (error) {
          return failure(record, error);
        }
      });
    },
    ...(state
      ? {
          async onAssignment(assignment: Assignment) {
            await state.assign(Object.fromEntries(Object.entries(assignment).filter(([topic]) => inputs.includes(topic))));
          },
          async close() {
            await state.close();
          },
        }
      : {}),
  };
}
