import { Bool, Field, FixedSizeList, Float32, Int32, Schema, Utf8 } from 'apache-arrow';
import type { PointToWrite } from '../point-payload.js';
import type { Distance, PointFilter, PointPayload, StoredPoint } from '../vector-store.js';

/**
 * LanceDB layout of one collection: `<collection>` holds the points, `<collection>_heads` the
 * guard records. Filterable payload fields are columns; the full payload is one JSON column, so
 * live fields from `payload_json` need no schema change.
 */
export const METADATA_DISTANCE = 'ragsync.distance';
export const METADATA_MODEL = 'ragsync.model_id';

export function pointsSchema(dimension: number, distance: Distance, modelId: string): Schema {
  return new Schema(
    [
      new Field('id', new Utf8(), false),
      new Field('doc_key', new Utf8(), false),
      new Field('tenant', new Utf8(), false),
      new Field('doc_type', new Utf8(), false),
      new Field('store_id', new Int32(), false),
      new Field('chunk_index', new Int32(), false),
      new Field('vector', new FixedSizeList(dimension, new Field('item', new Float32(), true)), false),
      new Field('payload', new Utf8(), false),
    ],
    new Map([
      [METADATA_DISTANCE, distance],
      [METADATA_MODEL, modelId],
    ]),
  );
}

export const headsSchema = new Schema([
  new Field('doc_key', new Utf8(), false),
  new Field('live', new Bool(), false),
  new Field('head', new Utf8(), false),
]);

/** A SQL string literal: LanceDB predicates are DataFusion SQL, where `'` doubles inside a literal. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function whereOf(filter: PointFilter | undefined): string | undefined {
  const parts: string[] = [];
  if (filter?.tenant !== undefined) parts.push(`tenant = ${sqlString(filter.tenant)}`);
  if (filter?.docType !== undefined) parts.push(`doc_type = ${sqlString(filter.docType)}`);
  if (filter?.docKey !== undefined) parts.push(`doc_key = ${sqlString(filter.docKey)}`);
  if (filter?.storeId !== undefined) {
    if (!Number.isSafeInteger(filter.storeId)) throw new TypeError(`store id ${filter.storeId} is not an integer`);
    parts.push(`store_id = ${filter.storeId}`);
  }
  return parts.length === 0 ? undefined : parts.join(' AND ');
}

// A type alias (not an interface) so rows are assignable to LanceDB's `Record<string, unknown>[]`.
export type PointRow = {
  id: string;
  doc_key: string;
  tenant: string;
  doc_type: string;
  store_id: number;
  chunk_index: number;
  vector: number[];
  payload: string;
};

export function toRow(point: PointToWrite): PointRow {
  return {
    id: point.id,
    doc_key: point.payload.doc_key,
    tenant: point.payload.tenant,
    doc_type: point.payload.doc_type,
    store_id: point.payload.store_id,
    chunk_index: point.payload.chunk_index,
    vector: point.vector,
    payload: JSON.stringify(point.payload),
  };
}

/** Rows come back with Arrow vectors; copy them into plain arrays. */
export function fromRow(row: Record<string, unknown>): StoredPoint {
  return {
    id: String(row.id),
    vector: Array.from(row.vector as Iterable<number>),
    payload: JSON.parse(String(row.payload)) as PointPayload,
  };
}

export function toLanceDistance(distance: Distance): 'cosine' | 'dot' | 'l2' {
  return distance === 'euclid' ? 'l2' : distance;
}

/**
 * LanceDB's `_distance` in Qdrant's score convention: cosine and dot distances are `1 - similarity`;
 * l2 is the squared euclidean distance, Qdrant reports the distance itself.
 */
export function toScore(distance: Distance, lanceDistance: number): number {
  if (distance === 'euclid') return Math.sqrt(Math.max(0, lanceDistance));
  return 1 - lanceDistance;
}
