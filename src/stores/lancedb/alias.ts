import { readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@lancedb/lancedb';
import { SystemError } from '../../core/errors.js';
import type { CollectionSpec } from '../vector-store.js';
import { edge, specOf } from './edge.js';

/**
 * LanceDB has no aliases, so ragsync keeps its own: a small JSON file in the database folder,
 * `{ "<collection>": { "table": "<table>" } }`, naming the points table each configured collection
 * name stands for (its heads table is `<table>_heads`). A name without an entry is its own table:
 * a store configured before aliases existed works unchanged, and its first switch only adds the
 * entry. The file is replaced whole (write, then rename), so a reader sees the old or the new
 * pointer, never half of one.
 *
 * An entry may also hold writes (`holdWritesUntil`, epoch ms): stores of other processes then wait
 * before writing to the table, until the hold is lifted or runs out. A LanceDB table takes one
 * writer per document: two processes that both find a new document missing would both append it.
 * `resync --into` holds writes while its own group catches up after the switch (seconds), so the
 * live store and the resync never write the new table at once; searches go on meanwhile.
 */
export const ALIAS_FILE = 'ragsync-aliases.json';

/** How long a store trusts the pointer it read before reading it again. @defaultValue 1000 */
export const DEFAULT_ALIAS_TTL_MS = 1000;

export interface LanceAlias {
  table: string;
  /** Writes wait until then (epoch ms), unless the hold is lifted first. */
  holdWritesUntil?: number;
}

export async function readLanceAliases(path: string): Promise<Record<string, LanceAlias>> {
  let text: string;
  try {
    text = await readFile(join(path, ALIAS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new SystemError(`lancedb alias file ${join(path, ALIAS_FILE)} cannot be read: ${(error as Error).message}`, { code: 'lancedb_alias' });
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new TypeError('not an object');
    const aliases: Record<string, LanceAlias> = {};
    for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
      const entry = value as Partial<LanceAlias> | null;
      if (entry === null || typeof entry !== 'object' || typeof entry.table !== 'string') throw new TypeError(`entry "${name}" has no table`);
      aliases[name] = { table: entry.table, ...(typeof entry.holdWritesUntil === 'number' ? { holdWritesUntil: entry.holdWritesUntil } : {}) };
    }
    return aliases;
  } catch (error) {
    throw new SystemError(`lancedb alias file ${join(path, ALIAS_FILE)} is not a JSON object of names: ${(error as Error).message}`, { code: 'lancedb_alias' });
  }
}

/** Points `alias` at `table` (replacing the file atomically); returns the table it named before. */
export async function writeLanceAlias(path: string, alias: string, table: string, holdWritesUntil?: number): Promise<string> {
  const aliases = await readLanceAliases(path);
  const previous = aliases[alias]?.table ?? alias;
  await mkdir(path, { recursive: true });
  const file = join(path, ALIAS_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  const entry: LanceAlias = { table, ...(holdWritesUntil === undefined ? {} : { holdWritesUntil }) };
  await writeFile(temporary, JSON.stringify({ ...aliases, [alias]: entry }, null, 2) + '\n');
  await rename(temporary, file);
  return previous;
}

/**
 * The table a collection name stands for, read again at most every `ttlMs`: live workers follow a
 * switch within that time, without a restart, for the cost of one small file read per interval.
 */
export class LanceAliasPointer {
  private entry: LanceAlias | undefined;
  private readAt = 0;
  private waited = false;
  /**
   * Grows whenever what this pointer says changes: another table, a hold set or lifted (or run
   * out while a write waited). Heads read before a change may not be those the next write meets.
   */
  generation = 0;

  constructor(
    private readonly path: string,
    private readonly name: string,
    private readonly ttlMs = DEFAULT_ALIAS_TTL_MS,
  ) {}

  async resolve(): Promise<string> {
    return (await this.current()).table;
  }

  /** Resolves once writes are not held (see ALIAS_FILE); the table may have changed meanwhile. */
  async writable(): Promise<void> {
    for (;;) {
      const until = (await this.current()).holdWritesUntil;
      if (until === undefined || until <= Date.now()) {
        // Another process wrote while this one waited.
        if (this.waited) this.generation += 1;
        this.waited = false;
        return;
      }
      this.waited = true;
      await new Promise((resolve) => setTimeout(resolve, Math.min(250, this.ttlMs)));
      this.readAt = 0;
    }
  }

  private async current(): Promise<LanceAlias> {
    const now = Date.now();
    if (this.entry === undefined || now - this.readAt >= this.ttlMs) {
      const entry = (await readLanceAliases(this.path))[this.name] ?? { table: this.name };
      if (this.entry !== undefined && (entry.table !== this.entry.table || entry.holdWritesUntil !== this.entry.holdWritesUntil)) this.generation += 1;
      this.entry = entry;
      this.readAt = now;
    }
    return this.entry;
  }
}

/** Alias administration of a LanceDB folder, for `resync --into` (see CollectionAliases in src/stores/index.ts). */
export class LanceDbAliases {
  readonly kind = 'lancedb';

  constructor(private readonly path: string) {}

  async resolve(name: string): Promise<string | undefined> {
    const table = (await readLanceAliases(this.path))[name]?.table ?? name;
    return (await this.exists(table)) ? table : undefined;
  }

  async exists(table: string): Promise<boolean> {
    const names = await this.tableNames();
    return names.includes(table) && names.includes(`${table}_heads`);
  }

  /** True when `name` is the target of some alias or an alias itself. */
  async isAliased(name: string): Promise<boolean> {
    const aliases = await readLanceAliases(this.path);
    return name in aliases || Object.values(aliases).some((entry) => entry.table === name);
  }

  async spec(table: string): Promise<CollectionSpec | undefined> {
    if (!(await this.exists(table))) return undefined;
    const db = await edge('connect', () => connect(this.path));
    try {
      const opened = await edge('open table', () => db.openTable(table));
      try {
        return specOf((await opened.schema()) as unknown as Parameters<typeof specOf>[0]);
      } finally {
        opened.close();
      }
    } finally {
      db.close();
    }
  }

  async switch(name: string, table: string, options: { holdWritesMs?: number } = {}): Promise<{ previous: string; adopted: boolean }> {
    const previous = await writeLanceAlias(this.path, name, table, options.holdWritesMs === undefined ? undefined : Date.now() + options.holdWritesMs);
    return { previous, adopted: false };
  }

  async releaseWrites(name: string): Promise<void> {
    const entry = (await readLanceAliases(this.path))[name];
    if (entry?.holdWritesUntil !== undefined) await writeLanceAlias(this.path, name, entry.table);
  }

  async close(): Promise<void> {}

  private async tableNames(): Promise<string[]> {
    const db = await edge('connect', () => connect(this.path));
    try {
      return await edge('list tables', () => db.tableNames());
    } finally {
      db.close();
    }
  }
}
