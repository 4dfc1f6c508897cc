import { createRequire } from 'node:module';
import type * as Arrow from 'apache-arrow';
import { lexicalText, type PointToWrite } from '../point-payload.js';
import type { Distance, PointPayload, SearchFilter, StoredPoint } from '../vector-store.js';

/**
 * apache-arrow as @lancedb/lancedb itself loads it (CommonJS). The package ships separate CommonJS
 * and ES module builds, and LanceDB only takes a table built with its own copy as it is: a table of
 * the other build is rebuilt row by row (or refused), which costs more than building it.
 */
const requireFromLanceDb = createRequire(createRequire(import.meta.url).resolve('@lancedb/lancedb'));
const { Bool, Field, FixedSizeList, Float32, Float64, Int32, List, RecordBatch, Schema, Struct, Table, Utf8, makeData } = requireFromLanceDb('apache-arrow') as typeof Arrow;

/**
 * LanceDB layout of one collection: `<collection>` holds the points, `<collection>_heads` the
 * guard records. Filterable payload fields are columns; the full payload is one JSON column, so
 * live fields from `payload_json` need no schema change.
 *
 * `text` is the point's lexical text (lexicalText: title and chunk text) under a full-text index;
 * `categories`, `price` and `stock_status` copy payload fields for search filters, and are
 * rewritten with the payload when a price or stock aspect arrives. Tables created before these
 * columns existed are written without them (rows follow the table's own schema); a search that
 * needs one of them says so (see LEXICAL_COLUMN).
 */
export const METADATA_DISTANCE = 'ragsync.distance';
export const METADATA_MODEL = 'ragsync.model_id';
/** The column under the full-text index. */
export const LEXICAL_COLUMN = 'text';
/** Columns a search filter reads, by filter field. */
const FILTER_COLUMNS = { category: 'categories', minPrice: 'price', maxPrice: 'price', stockStatus: 'stock_status' } as const;

export function pointsSchema(dimension: number, distance: Distance, modelId: string): Arrow.Schema {
  return new Schema(
    [
      new Field('id', new Utf8(), false),
      new Field('doc_key', new Utf8(), false),
      new Field('tenant', new Utf8(), false),
      new Field('doc_type', new Utf8(), false),
      new Field('store_id', new Int32(), false),
      new Field('chunk_index', new Int32(), false),
      new Field(LEXICAL_COLUMN, new Utf8(), false),
      new Field('categories', new List(new Field('item', new Utf8(), true)), false),
      new Field('price', new Float64(), true),
      new Field('stock_status', new Utf8(), true),
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

/**
 * The filter as a DataFusion predicate. `columns` are the table's: a filter on a column that an
 * older table lacks is refused (TypeError) rather than answered as if nothing matched.
 */
export function whereOf(filter: SearchFilter | undefined, columns?: ReadonlySet<string>): string | undefined {
  const parts: string[] = [];
  if (filter?.tenant !== undefined) parts.push(`tenant = ${sqlString(filter.tenant)}`);
  if (filter?.docType !== undefined) parts.push(`doc_type = ${sqlString(filter.docType)}`);
  if (filter?.docKey !== undefined) parts.push(`doc_key = ${sqlString(filter.docKey)}`);
  if (filter?.storeId !== undefined) {
    if (!Number.isSafeInteger(filter.storeId)) throw new TypeError(`store id ${filter.storeId} is not an integer`);
    parts.push(`store_id = ${filter.storeId}`);
  }
  for (const [field, column] of Object.entries(FILTER_COLUMNS)) {
    if (filter?.[field as keyof typeof FILTER_COLUMNS] !== undefined && columns !== undefined && !columns.has(column)) {
      throw new TypeError(`the table has no ${column} column (created before search filters on it): filter on ${field} needs a new collection`);
    }
  }
  if (filter?.category !== undefined) parts.push(`array_has(categories, ${sqlString(filter.category)})`);
  if (filter?.minPrice !== undefined) parts.push(`price >= ${finite(filter.minPrice)}`);
  if (filter?.maxPrice !== undefined) parts.push(`price <= ${finite(filter.maxPrice)}`);
  if (filter?.stockStatus !== undefined) parts.push(`stock_status = ${sqlString(filter.stockStatus)}`);
  return parts.length === 0 ? undefined : parts.join(' AND ');
}

function finite(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`${value} is not a finite number`);
  return String(value);
}

/**
 * A column of strings, nulls not allowed, encoded straight into one buffer. Arrow's builder encodes
 * every value into an array of its own and grows its buffers by copying them, which made most of
 * the garbage (and of the collector's work) of a write.
 */
function strings(values: readonly string[]): Arrow.Data {
  const offsets = new Int32Array(values.length + 1);
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    bytes += Buffer.byteLength(values[i]!, 'utf8');
    offsets[i + 1] = bytes;
  }
  const buffer = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < values.length; i++) buffer.write(values[i]!, offsets[i]!, 'utf8');
  return makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets: offsets, data: new Uint8Array(buffer.buffer, buffer.byteOffset, bytes) });
}

/** A column of strings where null is allowed. */
function nullableStrings(values: ReadonlyArray<string | null>): Arrow.Data {
  const data = strings(values.map((value) => value ?? ''));
  const valid = validity(values.map((value) => value !== null));
  return makeData({ type: new Utf8(), length: values.length, nullCount: valid.nulls, nullBitmap: valid.bits, valueOffsets: data.valueOffsets, data: data.values });
}

function nullableFloats(values: ReadonlyArray<number | null>): Arrow.Data {
  const valid = validity(values.map((value) => value !== null));
  return makeData({ type: new Float64(), length: values.length, nullCount: valid.nulls, nullBitmap: valid.bits, data: Float64Array.from(values, (value) => value ?? 0) });
}

/** A column of lists of strings (no null lists). */
function stringLists(type: Arrow.List<Arrow.Utf8>, values: ReadonlyArray<readonly string[]>): Arrow.Data {
  const offsets = new Int32Array(values.length + 1);
  values.forEach((list, i) => (offsets[i + 1] = offsets[i]! + list.length));
  return makeData({ type, length: values.length, nullCount: 0, valueOffsets: offsets, child: strings(values.flat()) as Arrow.Data<Arrow.Utf8> });
}

function validity(valid: readonly boolean[]): { bits: Uint8Array; nulls: number } {
  const bits = new Uint8Array(Math.ceil(valid.length / 8));
  let nulls = 0;
  valid.forEach((ok, i) => {
    if (ok) bits[i >> 3]! |= 1 << (i & 7);
    else nulls += 1;
  });
  return { bits, nulls };
}

function ints(values: Int32Array): Arrow.Data {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** A column of booleans, nulls not allowed: one bit per value, least significant first. */
function bools(values: readonly boolean[]): Arrow.Data {
  const bits = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((value, i) => {
    if (value) bits[i >> 3]! |= 1 << (i & 7);
  });
  return makeData({ type: new Bool(), length: values.length, nullCount: 0, data: bits });
}

function table(schema: Arrow.Schema, length: number, columns: Record<string, Arrow.Data>): Arrow.Table {
  const children = schema.fields.map((field) => {
    const column = columns[field.name];
    if (column === undefined) throw new TypeError(`no column ${field.name} for the lancedb table`);
    return column;
  });
  return new Table(schema, new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children })));
}

/**
 * Points as one Arrow table in the points table's schema, column by column: the vectors are copied
 * once into one Float32Array (the FixedSizeList's values), instead of going through LanceDB's row
 * conversion, which infers and builds every value on its own and was most of a write's cost.
 */
export function pointsTable(schema: Arrow.Schema, points: readonly PointToWrite[]): Arrow.Table {
  const n = points.length;
  const vectorType = schema.fields.find((field) => field.name === 'vector')!.type as Arrow.FixedSizeList;
  const dimension = vectorType.listSize;
  const values = new Float32Array(n * dimension);
  const storeIds = new Int32Array(n);
  const chunkIndexes = new Int32Array(n);
  const ids: string[] = new Array(n);
  const docKeys: string[] = new Array(n);
  const tenants: string[] = new Array(n);
  const docTypes: string[] = new Array(n);
  const payloads: string[] = new Array(n);
  const texts: string[] = new Array(n);
  const categories: string[][] = new Array(n);
  const prices: Array<number | null> = new Array(n);
  const stock: Array<string | null> = new Array(n);
  points.forEach((point, i) => {
    if (point.vector.length !== dimension) throw new TypeError(`point ${point.id} has ${point.vector.length} values, the table ${dimension}`);
    values.set(point.vector, i * dimension);
    ids[i] = point.id;
    docKeys[i] = point.payload.doc_key;
    tenants[i] = point.payload.tenant;
    docTypes[i] = point.payload.doc_type;
    storeIds[i] = point.payload.store_id;
    chunkIndexes[i] = point.payload.chunk_index;
    payloads[i] = JSON.stringify(point.payload);
    texts[i] = lexicalText(point.payload);
    categories[i] = stringList(point.payload.categories);
    prices[i] = typeof point.payload.price === 'number' && Number.isFinite(point.payload.price) ? point.payload.price : null;
    stock[i] = typeof point.payload.stock_status === 'string' ? point.payload.stock_status : null;
  });
  const categoriesType = schema.fields.find((field) => field.name === 'categories')?.type as Arrow.List<Arrow.Utf8> | undefined;
  const vectors = makeData({
    type: vectorType,
    length: n,
    nullCount: 0,
    child: makeData({ type: vectorType.children[0]!.type as Arrow.Float32, length: n * dimension, nullCount: 0, data: values }),
  });
  return table(schema, n, {
    id: strings(ids),
    doc_key: strings(docKeys),
    tenant: strings(tenants),
    doc_type: strings(docTypes),
    store_id: ints(storeIds),
    chunk_index: ints(chunkIndexes),
    vector: vectors,
    payload: strings(payloads),
    // Built only for tables that have these columns (see table()).
    ...(schema.fields.some((field) => field.name === LEXICAL_COLUMN) ? { [LEXICAL_COLUMN]: strings(texts) } : {}),
    ...(categoriesType === undefined ? {} : { categories: stringLists(categoriesType, categories) }),
    ...(schema.fields.some((field) => field.name === 'price') ? { price: nullableFloats(prices) } : {}),
    ...(schema.fields.some((field) => field.name === 'stock_status') ? { stock_status: nullableStrings(stock) } : {}),
  });
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/**
 * Vectors written in one commit at most (2,730 points at 384 dimensions). A write is copied a few
 * times on its way into LanceDB (serialised, then copied again by its client, then decoded and
 * encoded by the native side), and the allocator keeps what the largest writes needed: parts of a
 * few MB keep the worker about 100 MB smaller than writes of 8,000 points, for a few percent of speed.
 */
const VECTOR_BYTES_PER_WRITE = 4 * 1024 * 1024;

/**
 * Points in parts of one commit each (see VECTOR_BYTES_PER_WRITE), a document's points always in
 * one part, so a crash between two commits never leaves part of a document's new chunks written.
 */
export function inParts(points: readonly PointToWrite[], schema: Arrow.Schema): PointToWrite[][] {
  const vector = schema.fields.find((field) => field.name === 'vector')!.type as Arrow.FixedSizeList;
  const size = Math.max(1, Math.floor(VECTOR_BYTES_PER_WRITE / (vector.listSize * 4)));
  const byDoc = new Map<string, PointToWrite[]>();
  for (const point of points) {
    const docPoints = byDoc.get(point.payload.doc_key);
    if (docPoints === undefined) byDoc.set(point.payload.doc_key, [point]);
    else docPoints.push(point);
  }
  const parts: PointToWrite[][] = [];
  let part: PointToWrite[] = [];
  for (const docPoints of byDoc.values()) {
    if (part.length > 0 && part.length + docPoints.length > size) {
      parts.push(part);
      part = [];
    }
    part.push(...docPoints);
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

/** Head rows (`doc_key`, `live`, `head` as JSON) as one Arrow table. */
export function headsTable(rows: ReadonlyArray<{ doc_key: string; live: boolean; head: string }>): Arrow.Table {
  return table(headsSchema, rows.length, {
    doc_key: strings(rows.map((r) => r.doc_key)),
    live: bools(rows.map((r) => r.live)),
    head: strings(rows.map((r) => r.head)),
  });
}

/** Rows come back with Arrow vectors; copy them into plain arrays. */
export function fromRow(row: Record<string, unknown>): StoredPoint {
  return {
    id: String(row.id),
    vector: Array.from(row.vector as Iterable<number>),
    payload: JSON.parse(String(row.payload)) as PointPayload,
  };
}

/**
 * A stored point as one to write again (its payload changed): its vector as the float32 values
 * read, without going through an array of numbers.
 */
export function toPointToWrite(row: Record<string, unknown>): PointToWrite {
  return {
    id: String(row.id),
    vector: (row.vector as Arrow.Vector<Arrow.Float32>).toArray(),
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
