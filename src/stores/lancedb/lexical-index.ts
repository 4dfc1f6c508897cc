import { Index, type Table } from '@lancedb/lancedb';
import { LEXICAL_COLUMN } from './tables.js';

/** Name of the full-text index on the points table's lexical column. */
export const LEXICAL_INDEX = 'text_idx';

/**
 * BM25 over the lexical text (docs/retrieval.md): words lowercased, folded to ASCII, English stop
 * words dropped and stems indexed, as Qdrant's `qdrant/bm25` does. No positions: no phrase
 * queries, a smaller index.
 */
export const lexicalIndexConfig = (): Index =>
  Index.fts({ baseTokenizer: 'simple', lowercase: true, asciiFolding: true, stem: true, removeStopWords: true, language: 'English', withPosition: false });

/**
 * Tables below this many rows rebuild the index within the write that made it due (at most a few
 * hundred ms); larger ones rebuild it beside the writes, one build at a time.
 */
const REBUILD_IN_WRITE_BELOW_ROWS = 10_000;

/**
 * Tables below this many rows rebuild the index in every write that adds rows (10 to 50 ms), so a
 * small catalog's lexical ranking never depends on how its writes happened to be batched.
 */
const REBUILD_EVERY_WRITE_BELOW_ROWS = 1_000;

/**
 * When the full-text index of a points table is rebuilt. Rows written since the last build are
 * searched by a scan of their own, so a save is found by its words at once; but LanceDB (0.30)
 * weighs a word of those rows by a count that leaves out the indexed ones, so while most rows of a
 * table are not indexed, a word in most of them scores nothing. The index is therefore rebuilt once
 * the rows written since its last build reach a quarter of the rows it covered (half, for tables
 * of REBUILD_IN_WRITE_BELOW_ROWS rows and more), and in every write while a table is small. A build costs
 * about 50 µs of one core per row (30,000 rows of 90 words: 1.5 s): a bulk load indexes about
 * three times its rows in all, none of it on the write path once the table is large.
 */
export class LexicalIndexUpkeep {
  private written = 0;
  private covered = 0;
  private building: Promise<void> | undefined;

  /** The index is taken as covering the table's rows (it exists, or was just built). */
  indexed(tableRows: number): void {
    this.written = 0;
    this.covered = tableRows;
  }

  /** Counts rows written to `table` and rebuilds the index when due. Never throws: a failed build is tried again later. */
  async wrote(table: Table, rows: number): Promise<void> {
    this.written += rows;
    const share = this.covered < REBUILD_EVERY_WRITE_BELOW_ROWS ? 0 : this.covered < REBUILD_IN_WRITE_BELOW_ROWS ? 0.25 : 0.5;
    const due = this.written >= Math.max(1, this.covered * share);
    if (!due || this.building !== undefined) return;
    const build = this.rebuild(table);
    if (this.covered < REBUILD_IN_WRITE_BELOW_ROWS) return build;
    this.building = build.finally(() => (this.building = undefined));
  }

  /** Waits for a build that runs beside the writes, before the table is closed. */
  async settled(): Promise<void> {
    await this.building;
  }

  private async rebuild(table: Table): Promise<void> {
    try {
      // Rows written while it builds count towards the next build.
      this.indexed(await table.countRows());
      await table.createIndex(LEXICAL_COLUMN, { config: lexicalIndexConfig(), name: LEXICAL_INDEX, replace: true });
    } catch {
      // A lost commit race or a closed table: the rows stay searchable by scan, and the next
      // writes make the build due again.
      this.written = Math.max(this.written, this.covered);
    }
  }
}
