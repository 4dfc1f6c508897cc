import { connect, Index, rerankers, Session, type Connection, type Table, type VectorQuery } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { SystemError } from '../../core/errors.js';
import { HeadsOutdatedError, type PointChanges, type StoreBackend } from '../guarded-store.js';
import { decodeHead, encodeHead, isLive } from '../version-guard.js';
import { RRF_K, type CollectionSpec, type HeadRecord, type PointFilter, type SearchHit, type SearchQuery, type StoredPoint } from '../vector-store.js';
import { searchPlan } from '../search-plan.js';
import { edge, specOf } from './edge.js';
import { LanceAliasPointer } from './alias.js';
import { LEXICAL_INDEX, lexicalIndexConfig, LexicalIndexUpkeep } from './lexical-index.js';
import {
  fromRow,
  headsSchema,
  headsTable,
  inParts,
  LEXICAL_COLUMN,
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
   * Commits to a table (each adds a data file or a deletion file) after which it is compacted: its
   * files merged and deleted rows dropped, versions older than ten minutes removed, its index
   * brought up to date. Every file adds a little to each query and to the manifest each commit
   * rewrites; with the doc_key index, a lookup of 1,000 documents takes about 50 ms at 3,000 files
   * instead of 15 ms at a few. But compacting rewrites every file of fewer than a million rows, so
   * the whole table: for the points table that is every vector (about 1.8 kB a point), 550 MB and
   * 250-300 MB of transient memory at 300,000 points, which is why it waits ten times as many
   * commits as the heads table. @defaultValue 100 for the heads table, 1000 for the points table
   */
  optimizeEveryCommits?: number;
  /**
   * Rows written to a table after which its doc_key index is rebuilt (a rebuild sorts the doc_key
   * column only, a fraction of a second at 300,000 rows); until then lookups scan the rows written
   * since. The threshold grows with the table (a quarter of its rows at the last rebuild, when that
   * is more), so rebuilding stays a small share of the writes. @defaultValue 50000
   */
  indexEveryRows?: number;
  /**
   * Commits to a table after which its doc_key index is rebuilt, whatever their rows: each commit
   * adds a file, and a lookup reads the doc_key column of every file written since the last
   * rebuild. Small writes (a store stage at 100 records/s writes a few documents a batch) would
   * otherwise reach `indexEveryRows` only after thousands of files: at 100 changes/s the lookup of
   * a batch's stored point ids grew from 30 ms to 175 ms within a minute, 1.5 to 2.5 s at
   * 1,000/s. A rebuild of a 100,000-row table takes 150 to 200 ms. @defaultValue 100
   */
  indexEveryCommits?: number;
  /**
   * How long the table a collection name stands for (src/stores/lancedb/alias.ts) is trusted
   * before the pointer is read again; a switch reaches this store within it. @defaultValue 1000
   */
  aliasTtlMs?: number;
}

const KEEP_VERSIONS_MS = 10 * 60_000;
/** After following an alias to another table, how long heads are merged rather than appended (longer than any batch). */
const SWITCH_GRACE_MS = 5 * 60_000;
/** Keys per `IN (…)` list: keeps one SQL predicate a reasonable size. */
const KEYS_PER_QUERY = 1_000;
/**
 * LanceDB's caches of file metadata and of indexes default to gigabytes. The store reads the
 * latest manifest and a few columns of each fragment, and its indexes are small (doc_key only):
 * small bounds cost no measurable speed and keep the worker's memory flat.
 */
const METADATA_CACHE_BYTES = 32n * 1024n * 1024n;
const INDEX_CACHE_BYTES = 16n * 1024n * 1024n;
/**
 * Every lookup of the store is by doc_key (`doc_key IN (…)` on both tables); without an index each
 * one scans the column of every row, so it slows down as the table grows.
 */
const DOC_KEY_INDEX = 'doc_key_idx';
let reranker: Promise<rerankers.RRFReranker> | undefined;
/** LanceDB's reciprocal rank fusion, made once (it is stateless). */
function rrf(): Promise<rerankers.RRFReranker> {
  reranker ??= rerankers.RRFReranker.create(RRF_K);
  return reranker;
}

function inChunks<T>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += KEYS_PER_QUERY) chunks.push(items.slice(i, i + KEYS_PER_QUERY));
  return chunks;
}

/** When a table is due for compaction or for a rebuild of its index, see the options. */
class Upkeep {
  private commits = 0;
  private commitsSinceIndex = 0;
  private rows = 0;
  private rowsAtLast = 0;

  constructor(
    private readonly everyCommits: number,
    private readonly everyRows: number,
    private readonly indexEveryCommits: number,
  ) {}

  /** Counts `commits` commits that wrote `rows` rows and says what is due after them. */
  wrote(rows: number, commits: number): 'compact' | 'index' | undefined {
    this.commits += commits;
    this.commitsSinceIndex += commits;
    this.rows += rows;
    if (this.commits >= this.everyCommits) return 'compact';
    if (this.rows >= Math.max(this.everyRows, this.rowsAtLast * 0.25) || this.commitsSinceIndex >= this.indexEveryCommits) return 'index';
    return undefined;
  }

  /** Compacting also brings the index up to date. */
  compacted(tableRows: number): void {
    this.commits = 0;
    this.indexed(tableRows);
  }

  indexed(tableRows: number): void {
    this.rows = 0;
    this.commitsSinceIndex = 0;
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
  private readonly pointsUpkeep: Upkeep;
  private readonly headsUpkeep: Upkeep;
  private readonly lexicalUpkeep = new LexicalIndexUpkeep();
  /** The points table `options.collection` stands for now (itself unless an alias names another). */
  private table: string;
  private readonly alias: LanceAliasPointer;
  /** When this store last followed its alias to another table (epoch ms). */
  private switchedAt = 0;
  private followed = false;

  constructor(private readonly options: LanceDbStoreOptions) {
    this.table = options.collection;
    this.alias = new LanceAliasPointer(options.path, options.collection, options.aliasTtlMs);
    const everyRows = options.indexEveryRows ?? 50_000;
    const indexEveryCommits = options.indexEveryCommits ?? 100;
    this.pointsUpkeep = new Upkeep(options.optimizeEveryCommits ?? 1000, everyRows, indexEveryCommits);
    this.headsUpkeep = new Upkeep(options.optimizeEveryCommits ?? 100, everyRows, indexEveryCommits);
  }

  /** Counts `commits` commits of `rows` rows to `table`; compacts it or rebuilds its indexes when due. */
  private async wrote(table: Table, upkeep: Upkeep, rows: number, commits: number): Promise<void> {
    const due = upkeep.wrote(rows, commits);
    if (due === 'compact') {
      try {
        await table.optimize({ cleanupOlderThan: new Date(Date.now() - KEEP_VERSIONS_MS) });
        const tableRows = await table.countRows();
        upkeep.compacted(tableRows);
        // Compaction brings the full-text index up to date too.
        if (table === this.points) this.lexicalUpkeep.indexed(tableRows);
        return;
      } catch {
        // Compaction can lose a commit race with a concurrent write; the data is intact and the
        // next write tries again, so a record's write must not fail for it.
        return;
      }
    }
    if (due === 'index') {
      try {
        await table.createIndex('doc_key', { config: Index.btree(), name: DOC_KEY_INDEX, replace: true });
        upkeep.indexed(await table.countRows());
      } catch {
        // As above; a lookup finds rows that are not indexed yet by scanning them.
      }
    }
    if (table === this.points && (await this.hasColumn(LEXICAL_COLUMN))) await this.lexicalUpkeep.wrote(table, rows);
  }

  async connect(): Promise<void> {
    // Strong consistency: the store stage, `search` and status may be separate connections (or
    // processes) on one folder; without it a reader keeps the table version it first saw.
    const session = new Session(INDEX_CACHE_BYTES, METADATA_CACHE_BYTES);
    this.db = await edge('connect', () => connect(this.options.path, { readConsistencyInterval: 0, session }));
  }

  async close(): Promise<void> {
    await this.lexicalUpkeep.settled();
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
    await this.followAlias();
    const collection = this.table;
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
    await this.ensureDocKeyIndex(await this.pointsTable());
    await this.ensureDocKeyIndex(await this.headsTable());
    await this.ensureLexicalIndex();
  }

  /** Tables with a lexical column get its full-text index here when it is missing. */
  private async ensureLexicalIndex(): Promise<void> {
    if (!(await this.hasColumn(LEXICAL_COLUMN))) return;
    const table = await this.pointsTable();
    const indices = await edge('list indices', () => table.listIndices());
    if (!indices.some((index) => index.name === LEXICAL_INDEX)) {
      await edge('create index', () => table.createIndex(LEXICAL_COLUMN, { config: lexicalIndexConfig(), name: LEXICAL_INDEX }));
    }
    // The index is taken as current: a restarted worker does not rebuild it on its first write.
    this.lexicalUpkeep.indexed(await edge('count points', () => table.countRows()));
  }

  private async hasColumn(name: string): Promise<boolean> {
    return (await this.pointsRowSchema()).fields.some((field) => field.name === name);
  }

  /** Tables created before the store indexed doc_key get their index here, once. */
  private async ensureDocKeyIndex(table: Table): Promise<void> {
    const indices = await edge('list indices', () => table.listIndices());
    if (indices.some((index) => index.name === DOC_KEY_INDEX)) return;
    await edge('create index', () => table.createIndex('doc_key', { config: Index.btree(), name: DOC_KEY_INDEX }));
  }

  /** Opens the tables anew when the collection's alias names another table than before. */
  private async followAlias(): Promise<void> {
    const table = await this.alias.resolve();
    const first = !this.followed;
    this.followed = true;
    if (table === this.table) return;
    // Handles of the old tables stay with the calls still using them and are freed with them.
    this.table = table;
    // Finding the alias at start is no switch: nothing was read from another table.
    if (!first) this.switchedAt = Date.now();
    this.points = this.heads = undefined;
    this.pointsArrowSchema = undefined;
  }

  private async pointsTable(): Promise<Table> {
    await this.followAlias();
    this.points ??= await this.open(this.table);
    return this.points;
  }

  /** The points table's Arrow schema, as written rows must have it. */
  private async pointsRowSchema(): Promise<Schema> {
    this.pointsArrowSchema ??= (await (await this.pointsTable()).schema()) as unknown as Schema;
    return this.pointsArrowSchema;
  }

  private async headsTable(): Promise<Table> {
    await this.followAlias();
    this.heads ??= await this.open(`${this.table}_heads`);
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

  /**
   * The alias pointer's generation, once writes are not held. A batch that read its heads before
   * the collection name was switched to another table, or before writes of the resync were held
   * and released, would otherwise write what it decided on the old heads into a table where the
   * resync has written newer versions since: a document would go back to an older version.
   */
  async writeEpoch(): Promise<number> {
    await this.alias.writable();
    return this.alias.generation;
  }

  /** Called once the table to write is resolved, before anything is written. */
  private checkEpoch(epoch: number | undefined): void {
    if (epoch !== undefined && epoch < this.alias.generation) {
      throw new HeadsOutdatedError(`lancedb: "${this.options.collection}" changed (now table "${this.table}") since the batch read its heads`);
    }
  }

  /** New heads are appended; heads that existed are merged on doc_key (see StoreBackend.writeHeads). */
  async writeHeads(heads: readonly HeadRecord[], existing?: ReadonlySet<string>, epoch?: number): Promise<void> {
    await this.alias.writable();
    const table = await this.headsTable();
    this.checkEpoch(epoch);
    // Heads read from the table before a switch say nothing of the new one: merge them all there.
    if (Date.now() - this.switchedAt < SWITCH_GRACE_MS) existing = undefined;
    const rows = heads.map((head) => ({ doc_key: head.doc_key, live: isLive(head), head: JSON.stringify(encodeHead(head)) }));
    const fresh = existing === undefined ? [] : rows.filter((row) => !existing.has(row.doc_key));
    const known = existing === undefined ? rows : rows.filter((row) => existing.has(row.doc_key));
    if (fresh.length > 0) await edge('write heads', () => table.add(headsTable(fresh)));
    if (known.length > 0) await edge('write heads', () => table.mergeInsert('doc_key').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(headsTable(known)));
    await this.wrote(table, this.headsUpkeep, rows.length, Number(fresh.length > 0) + Number(known.length > 0));
  }

  /**
   * The points of the batch's documents are looked up first (ids only). Points are written in parts
   * of a few MB, whole documents each (see inParts): a part none of whose ids is stored is appended
   * (a bulk load is all appends: no join against the table), a part with a stored id is merged on id.
   * Stored points of those documents that are not kept are then deleted by id, and payload updates
   * rewrite rows that exist (a merge that never inserts, so an aspect can never bring back a chunk
   * that a save or delete removed).
   *
   * A crash between these writes leaves points the heads do not account for yet: the redelivered
   * records find them by the same lookup and converge (ids are deterministic).
   */
  async writePoints(changes: PointChanges): Promise<void> {
    await this.alias.writable();
    const table = await this.pointsTable();
    const schema = await this.pointsRowSchema();
    this.checkEpoch(changes.epoch);
    let written = 0;
    let commits = 0;
    if (changes.upserts.length > 0 || changes.replace.length > 0) {
      const stored = await this.storedIds(table, changes.replace.map((r) => r.docKey));
      for (const part of inParts(changes.upserts, schema)) {
        const data = pointsTable(schema, part);
        if (part.some((point) => stored.has(point.id))) {
          await edge('upsert points', () => table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data));
        } else {
          await edge('add points', () => table.add(data));
        }
        written += part.length;
        commits += 1;
      }
      const kept = new Set(changes.replace.flatMap((r) => r.keepIds));
      const superseded = [...stored].filter((id) => !kept.has(id));
      for (const ids of inChunks(superseded)) {
        await edge('delete points', () => table.delete(`id IN (${ids.map(sqlString).join(', ')})`));
        commits += 1;
      }
    }
    if (changes.payload.length > 0) {
      // Whole rows are written back: a merge of fewer columns makes LanceDB read every column of
      // the table to fill in the others (up to 1 GB of transient memory at 300,000 points). The
      // documents are read and rewritten a query's worth at a time, so only those rows are held.
      const fields = new Map(changes.payload.map((p) => [p.docKey, p.fields]));
      for (const keys of inChunks([...fields.keys()])) {
        const rows = await edge('read points', () => table.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).select(['id', 'vector', 'payload']).toArray());
        const points = (rows as Array<Record<string, unknown>>).map(toPointToWrite).map((point) => ({ ...point, payload: { ...point.payload, ...fields.get(point.payload.doc_key) } }));
        for (const part of inParts(points, schema)) {
          const data = pointsTable(schema, part);
          await edge('set payload', () => table.mergeInsert('id').whenMatchedUpdateAll().execute(data));
          written += part.length;
          commits += 1;
        }
      }
    }
    await this.wrote(table, this.pointsUpkeep, written, commits);
  }

  /** Ids of the stored points of the given documents. */
  private async storedIds(table: Table, docKeys: readonly string[]): Promise<Set<string>> {
    const stored = new Set<string>();
    for (const keys of inChunks(docKeys)) {
      const rows = await edge('read point ids', () => table.query().where(`doc_key IN (${keys.map(sqlString).join(', ')})`).select(['id']).toArray());
      for (const row of rows as Array<Record<string, unknown>>) stored.add(String(row.id));
    }
    return stored;
  }

  /**
   * Dense: a vector search. Lexical: a full-text (BM25) search of the `text` column. Hybrid: both
   * in one LanceDB query, fused by its RRF reranker (k = RRF_K); the filter applies to both before
   * they are ranked.
   */
  async search(query: SearchQuery): Promise<SearchHit[]> {
    const plan = searchPlan(query);
    const table = await this.pointsTable();
    const schema = await this.pointsRowSchema();
    const distance = this.spec?.distance ?? specOf(schema).distance;
    const columns = new Set(schema.fields.map((field) => field.name));
    if (plan.mode !== 'dense' && !columns.has(LEXICAL_COLUMN)) {
      throw new SystemError(
        `lancedb table "${this.options.collection}" has no lexical text (created before lexical search): search it with mode dense, or fill a new collection`,
        { code: 'store_lexical_missing' },
      );
    }
    let where: string | undefined;
    try {
      where = whereOf(query, columns);
    } catch (error) {
      throw new SystemError(`lancedb table "${this.options.collection}": ${(error as Error).message}`, { code: 'store_filter_unsupported' });
    }
    const fts = { columns: [LEXICAL_COLUMN] };
    let search: VectorQuery | ReturnType<Table['query']>;
    if (plan.mode === 'lexical') {
      search = table.query().fullTextSearch(plan.text, fts);
    } else {
      search = table.vectorSearch(Array.from(plan.vector)).distanceType(toLanceDistance(distance));
      if (plan.mode === 'hybrid') search = search.fullTextSearch(plan.text, fts).rerank(await rrf());
    }
    search = search.limit(query.limit);
    if (where !== undefined) search = search.where(where);
    const rows = await edge('search', () => search.toArray());
    return rows.map((row: Record<string, unknown>) => {
      const point = fromRow(row);
      const score = plan.mode === 'dense' ? toScore(distance, Number(row._distance)) : plan.mode === 'lexical' ? Number(row._score) : Number(row._relevance_score);
      return { id: point.id, score, payload: point.payload };
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
    await this.alias.writable();
    const heads = await this.headsTable();
    const chunks = inChunks(docKeys);
    for (const keys of chunks) await edge('delete heads', () => heads.delete(`doc_key IN (${keys.map(sqlString).join(', ')})`));
    await this.wrote(heads, this.headsUpkeep, docKeys.length, chunks.length);
  }

  async liveDocKeys(): Promise<string[]> {
    const heads = await this.headsTable();
    const rows = await edge('list heads', () => heads.query().where('live = true').select(['doc_key']).toArray());
    return rows.map((row: Record<string, unknown>) => String(row.doc_key)).sort();
  }
}
