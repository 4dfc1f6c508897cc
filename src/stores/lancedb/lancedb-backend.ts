import { connect, Session, type Connection, type Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { SystemError } from '../../core/errors.js';
import type { PointChanges, StoreBackend } from '../guarded-store.js';
import { decodeHead, encodeHead, isLive } from '../version-guard.js';
import type { CollectionSpec, HeadRecord, PointFilter, SearchHit, SearchQuery, StoredPoint } from '../vector-store.js';
import { edge, specOf } from './edge.js';
import type { PointToWrite } from '../point-payload.js';
import {
  fromRow,
  headsSchema,
  headsTable,
  pointsSchema,
  pointsTable,
  sqlString,
  toLanceDistance,
  toPointToWrite,
  toScore,
  whereOf,
} from './tables.js';

export interface LanceDbStoreOptions {
  /** Directory of the database; created when missing. */
  path: string;
  /** Name of the points table; heads live in `<collection>_heads`. */
  collection: string;
  /**
   * Every write adds a table version and a data file, and reads slow down with their number (each
   * file is opened and filtered). A table is compacted (and versions older than ten minutes removed)
   * once this many writes went to it since the last compaction, or once the rows written since
   * reach `optimizeEveryRows`. @defaultValue 100
   */
  optimizeEveryWrites?: number;
  /**
   * Rows written to a table since its last compaction that trigger the next one; the threshold
   * grows with the table (a quarter of the rows it had at the last compaction, when that is more),
   * because compacting rewrites the table's small files: a fixed threshold would make a bulk load
   * rewrite the growing table again and again. @defaultValue 50000
   */
  optimizeEveryRows?: number;
}

const KEEP_VERSIONS_MS = 10 * 60_000;
/** Keys per `IN (…)` list: keeps one SQL predicate a reasonable size. */
const KEYS_PER_QUERY = 1_000;
/**
 * LanceDB's caches of file metadata and of indexes default to gigabytes. The store reads the
 * latest manifest and a few columns of each fragment, and has no vector index to cache: small
 * bounds cost no measurable speed and keep the worker's memory flat.
 */
const METADATA_CACHE_BYTES = 32n * 1024n * 1024n;
const INDEX_CACHE_BYTES = 16n * 1024n * 1024n;

function inChunks<T>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += KEYS_PER_QUERY) chunks.push(items.slice(i, i + KEYS_PER_QUERY));
  return chunks;
}

/** When a table is due for compaction: by writes and by rows written, see the options. */
class CompactionSchedule {
  private writes = 0;
  private rows = 0;
  private rowsAtLast = 0;

  constructor(private readonly options: LanceDbStoreOptions) {}

  wrote(rows: number): boolean {
    this.writes += 1;
    this.rows += rows;
    const everyRows = Math.max(this.options.optimizeEveryRows ?? 50_000, this.rowsAtLast * 0.25);
    return this.writes >= (this.options.optimizeEveryWrites ?? 100) || this.rows >= everyRows;
  }

  compacted(tableRows: number): void {
    this.writes = 0;
    this.rows = 0;
    this.rowsAtLast = tableRows;
  }
}

/** LanceDB on local disk: the embedded default when no Qdrant URL is configured. */
export class LanceDbBackend implements StoreBackend {
  readonly name = 'lancedb';
  private db: Connection | undefined;
  private points: Table | undefined;
  private heads: Table | undefined;
  private spec: CollectionSpec | undefined;
  private pointsArrowSchema: Schema | undefined;
  private readonly pointsSchedule: CompactionSchedule;
  private readonly headsSchedule: CompactionSchedule;

  constructor(private readonly options: LanceDbStoreOptions) {
    this.pointsSchedule = new CompactionSchedule(options);
    this.headsSchedule = new CompactionSchedule(options);
  }

  /** Counts a write of `rows` rows to `table` and compacts it when due. */
  private async wrote(table: Table, schedule: CompactionSchedule, rows: number): Promise<void> {
    if (!schedule.wrote(rows)) return;
    try {
      await table.optimize({ cleanupOlderThan: new Date(Date.now() - KEEP_VERSIONS_MS) });
      schedule.compacted(await table.countRows());
    } catch {
      // Compaction can lose a commit race with a concurrent write; the data is intact and the
      // next write tries again, so a record's write must not fail for it.
    }
  }

  async connect(): Promise<void> {
    // Strong consistency: the store stage, `search` and status may be separate connections (or
    // processes) on one folder; without it a reader keeps the table version it first saw.
    const session = new Session(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES);
    this.db = await edge('connect', () => connect(this.options.path, { readConsistencyInterval: 0, session }));
  }

  async close(): Promise<void> {
    this.points?.close();
    this.heads?.close();
    this.db?.close();
    this.points = this.heads = this.db = undefined;
  }

  knownSpec(): CollectionSpec | undefined {
    return this.spec;
  }

  private connection(): Connection {
    if (this.db === undefined) throw new SystemError('lancedb store used before connect()', { code: 'lancedb_not_connected' });
    return this.db;
  }

  async ensureCollection(spec: CollectionSpec): Promise<void> {
    const db = this.connection();
    const names = await edge('list tables', () => db.tableNames());
    const { collection } = this.options;
    if (!names.includes(collection)) {
      await edge('create table', () => db.createEmptyTable(collection, pointsSchema(spec.dimension, spec.distance, spec.modelId)));
    }
    if (!names.includes(`${collection}_heads`)) {
      await edge('create heads table', () => db.createEmptyTable(`${collection}_heads`, headsSchema));
    }
    const existing = specOf(await (await this.pointsTable()).schema());
    if (existing.dimension !== spec.dimension || existing.distance !== spec.distance) {
      throw new SystemError(
        `lancedb table "${collection}" has dimension ${existing.dimension} and distance ${existing.distance}; ` +
          `the embedder needs ${spec.dimension} and ${spec.distance}: use a new collection`,
        { code: 'store_dimension_mismatch' },
      );
    }
    if (existing.modelId !== '' && existing.modelId !== spec.modelId) {
      throw new SystemError(
        `lancedb table "${collection}" holds vectors of model ${existing.modelId}; the embedder is ${spec.modelId}: ` +
          'use the same embedder, or fill a new collection (RAGSYNC_COLLECTION) with the new model',
        { code: 'store_model_mismatch' },
      );
    }
    this.spec = existing;
  }

  private async pointsTable(): Promise<Table> {
    this.points ??= await this.open(this.options.collection);
    return this.points;
  }

  /** The points table's Arrow schema, as written rows must have it. */
  private async pointsRowSchema(): Promise<Schema> {
    this.pointsArrowSchema ??= (await (await this.pointsTable()).schema()) as unknown as Schema;
    return this.pointsArrowSchema;
  }

  private async headsTable(): Promise<Table> {
    this.heads ??= await this.open(`${this.options.collection}_heads`);
    return this.heads;
  }

  private async open(name: string): Promise<Table> {
    const db = this.connection();
    const names = await edge('list tables', () => db.tableNames());
    if (!names.includes(name)) {
      throw new SystemError(`lancedb table "${name}" does not exist under ${this.options.path}: run the store bootstrap`, {
        code: 'store_collection_missing',
      });
    }
    return edge('open table', () => db.openTable(name));
  }

  async readHeads(docKeys: readonly string[]): Promise<Map<string, HeadRecord>> {
    const heads = await this.headsTable();
    const found = new Map<string, HeadRecord>();
    for (const keys of inChunks(docKeys)) {
      const rows = await edge('read heads', () => heads.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).select(['head']).limit(keys.length).toArray());
      for (const row of rows as Array<Record<string, unknown>>) {
        const head = decodeHead(JSON.parse(String(row.head)));
        found.set(head.doc_key, head);
      }
    }
    return found;
  }

  /** New heads are appended; heads that existed are merged on doc_key (see StoreBackend.writeHeads). */
  async writeHeads(heads: readonly HeadRecord[], existing?: ReadonlySet<string>): Promise<void> {
    const table = await this.headsTable();
    const rows = heads.map((head) => ({ doc_key: head.doc_key, live: isLive(head), head: JSON.stringify(encodeHead(head)) }));
    const fresh = existing === undefined ? [] : rows.filter((row) => !existing.has(row.doc_key));
    const known = existing === undefined ? rows : rows.filter((row) => existing.has(row.doc_key));
    if (fresh.length > 0) await edge('write heads', () => table.add(headsTable(fresh)));
    if (known.length > 0) await edge('write heads', () => table.mergeInsert('doc_key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(headsTable(known)));
    await this.wrote(table, this.headsSchedule, rows.length);
  }

  /**
   * The points of the batch's documents are looked up first (ids only). Points whose id is not
   * stored yet are appended (a bulk load is all appends: no join against the table); when any id
   * is stored, the points are merged on id instead. Stored points of those documents that are not
   * kept are then deleted by id, and payload updates rewrite rows that exist (a merge that never
   * inserts, so an aspect can never bring back a chunk that a save or delete removed).
   *
   * A crash between these writes leaves points the heads do not account for yet: the redelivered
   * records find them by the same lookup and converge (ids are deterministic).
   */
  async writePoints(changes: PointChanges): Promise<void> {
    const table = await this.pointsTable();
    let written = 0;
    if (changes.upserts.length > 0 || changes.replace.length > 0) {
      const stored = await this.storedIds(table, changes.replace.map((r) => r.docKey));
      if (changes.upserts.length > 0) {
        const data = pointsTable(await this.pointsRowSchema(), changes.upserts);
        if (changes.upserts.some((point) => stored.has(point.id))) {
          await edge('upsert points', () => table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data));
        } else {
          await edge('add points', () => table.add(data));
        }
        written += changes.upserts.length;
      }
      const kept = new Set(changes.replace.flatMap((r) => r.keepIds));
      const superseded = [...stored.keys()].filter((id) => !kept.has(id));
      for (const ids of inChunks(superseded)) {
        await edge('delete points', () => table.delete(`id IN (${ids.map(sqlString).join(', ')})`));
      }
    }
    if (changes.payload.length > 0) {
      const fields = new Map(changes.payload.map((p) => [p.docKey, p.fields]));
      const points: PointToWrite[] = [];
      for (const keys of inChunks([...fields.keys()])) {
        const rows = await edge('read points', () => table.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).toArray());
        for (const point of (rows as Array<Record<string, unknown>>).map(fromRow)) {
          points.push(toPointToWrite({ ...point, payload: { ...point.payload, ...fields.get(point.payload.doc_key) } }));
        }
      }
      if (points.length > 0) {
        const data = pointsTable(await this.pointsRowSchema(), points);
        await edge('set payload', () => table.mergeInsert('id').whenMatchedUpdateAll().execute(data));
        written += points.length;
      }
    }
    await this.wrote(table, this.pointsSchedule, written);
  }

  /** Ids of the stored points of the given documents, with their document. */
  private async storedIds(table: Table, docKeys: readonly string[]): Promise<Map<string, string>> {
    const stored = new Map<string, string>();
    for (const keys of inChunks(docKeys)) {
      const rows = await edge('read point ids', () => table.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).select(['id', 'doc_key']).toArray());
      for (const row of rows as Array<Record<string, unknown>>) stored.set(String(row.id), String(row.doc_key));
    }
    return stored;
  }

  async search(query: SearchQuery): Promise<SearchHit[]> {
    const table = await this.pointsTable();
    const distance = this.spec?.distance ?? specOf(await table.schema()).distance;
    let search = table.vectorSearch(Array.from(query.vector)).distanceType(toLanceDistance(distance)).limit(query.limit);
    const where = whereOf(query);
    if (where !== undefined) search = search.where(where);
    const rows = await edge('search', () => search.toArray());
    return rows.map((row: Record<string, unknown>) => {
      const point = fromRow(row);
      return { id: point.id, score: toScore(distance, Number(row._distance)), payload: point.payload };
    });
  }

  async docPoints(docKey: string): Promise<StoredPoint[]> {
    const table = await this.pointsTable();
    const rows = await edge('read points', () => table.query().where(`doc_key = ${sqlString(docKey)}`).toArray());
    return rows.map(fromRow);
  }

  async countPoints(filter?: PointFilter): Promise<number> {
    const table = await this.pointsTable();
    return edge('count points', () => table.countRows(whereOf(filter)));
  }

  async deadHeads(): Promise<HeadRecord[]> {
    const heads = await this.headsTable();
    const rows = await edge('list heads', () => heads.query().where('live = false').select(['head']).toArray());
    return rows.map((row: Record<string, unknown>) => decodeHead(JSON.parse(String(row.head))));
  }

  async deleteHeads(docKeys: string[]): Promise<void> {
    const heads = await this.headsTable();
    for (const keys of inChunks(docKeys)) await edge('delete heads', () => heads.delete(`doc_key IN (${keys.map(sqlString).join(', ')})`));
    await this.wrote(heads, this.headsSchedule, docKeys.length);
  }

  async liveDocKeys(): Promise<string[]> {
    const heads = await this.headsTable();
    const rows = await edge('list heads', () => heads.query().where('live = true').select(['doc_key']).toArray());
    return rows.map((row: Record<string, unknown>) => String(row.doc_key)).sort();
  }
}
