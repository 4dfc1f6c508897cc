import { ENTITY_TYPES, isEntityType, type EntityType } from '../core/entities.js';
import { parseKey, TENANT_PATTERN } from '../core/keys.js';
import { STAGES, type StageName } from '../core/stages.js';

/**
 * What `ragsync resync` was asked to do, checked once (docs/resync.md). Pure: no I/O.
 */
export type ResyncFrom = 'changes' | 'documents' | 'vectors';
export const RESYNC_FROM: readonly ResyncFrom[] = ['changes', 'documents', 'vectors'];

export interface ResyncOptions {
  /** Where the replay starts: which stages run in fresh consumer groups. @defaultValue vectors */
  from: ResyncFrom;
  /** Only this tenant's documents are replayed and swept. */
  tenant?: string;
  /** Only these entity types are replayed and swept. */
  types?: EntityType[];
  /** Fill this new collection, then point the configured collection name at it. */
  into?: string;
}

export class ResyncUsageError extends Error {
  override readonly name = 'ResyncUsageError';
}

/** The stages a replay runs, in pipeline order (each in a fresh group). */
export function stagesFrom(from: ResyncFrom): StageName[] {
  if (from === 'changes') return ['map', 'chunk', 'embed', 'store'];
  if (from === 'documents') return ['chunk', 'embed', 'store'];
  return ['store'];
}

/**
 * Inputs of each stage of a replay that an earlier stage of the same replay writes (logical
 * topics): `documents` for chunk after map, `chunks` for embed, `vectors` for store. Everything
 * those topics held when the replay began was derived from the replay's sources and is derived
 * again by it, so the stage's group starts at their end offsets then, not at their beginning
 * (docs/resync.md). Topics no earlier stage writes (the price and stock changes the store reads,
 * retry topics) are read from their beginning. Pure.
 */
export function derivedInputs(stages: readonly StageName[]): Array<{ stage: StageName; topics: string[] }> {
  const derived: Array<{ stage: StageName; topics: string[] }> = [];
  stages.forEach((stage, i) => {
    const written = new Set(stages.slice(0, i).flatMap((earlier) => (STAGES[earlier].output ? [STAGES[earlier].output] : [])));
    const topics = STAGES[stage].inputs.filter((input) => written.has(input));
    if (topics.length > 0) derived.push({ stage, topics });
  });
  return derived;
}

/**
 * The topics whose keys are the source of truth of a pass (docs/design.md §5): what the first
 * stage replays, without the price and stock aspects (they never make a document) and without
 * retry topics. A store document whose key none of them holds is an orphan.
 */
export function sourceTopics(from: ResyncFrom): string[] {
  if (from === 'changes') return ENTITY_TYPES.map((type) => `changes.${type}`);
  if (from === 'documents') return ['documents'];
  return ['vectors'];
}

/** Collection names both stores accept: LanceDB table names and Qdrant collection names alike. */
const COLLECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

export function parseTypes(text: string): EntityType[] {
  const types = [...new Set(text.split(',').map((t) => t.trim()).filter((t) => t !== ''))];
  if (types.length === 0) throw new ResyncUsageError(`--types: expected a comma-separated list of ${ENTITY_TYPES.join(', ')}`);
  const unknown = types.filter((t) => !isEntityType(t));
  if (unknown.length > 0) throw new ResyncUsageError(`--types: unknown entity type ${unknown.join(', ')}: expected ${ENTITY_TYPES.join(', ')}`);
  return types as EntityType[];
}

export function checkOptions(options: { from?: string; tenant?: string; types?: string; into?: string }, collection: string): ResyncOptions {
  const from = options.from ?? 'vectors';
  if (!(RESYNC_FROM as readonly string[]).includes(from)) throw new ResyncUsageError(`--from: expected ${RESYNC_FROM.join(', ')}, got "${from}"`);
  const result: ResyncOptions = { from: from as ResyncFrom };
  if (options.tenant !== undefined) {
    if (!TENANT_PATTERN.test(options.tenant)) throw new ResyncUsageError(`--tenant: "${options.tenant}" is not a tenant name (${TENANT_PATTERN.source})`);
    result.tenant = options.tenant;
  }
  if (options.types !== undefined) result.types = parseTypes(options.types);
  if (options.into !== undefined) {
    if (!COLLECTION_NAME.test(options.into)) throw new ResyncUsageError(`--into: "${options.into}" is not a collection name (letters, digits, _ and -, at most 100)`);
    if (options.into === collection) throw new ResyncUsageError(`--into: "${options.into}" is the configured collection itself; name a new collection`);
    if (options.into.endsWith('_heads')) throw new ResyncUsageError(`--into: "${options.into}" ends in _heads, which names the heads of a collection`);
    // A new collection takes the place of the whole old one: a part of the catalogue would lose the rest.
    if (result.tenant !== undefined || result.types !== undefined) {
      throw new ResyncUsageError('--into fills a whole new collection and cannot be combined with --tenant or --types (the switch would drop every other document)');
    }
    result.into = options.into;
  }
  return result;
}

/** Whether a record key (doc_key) is within the resync's tenant and types. Unparseable keys are outside. */
export function keyFilter(options: Pick<ResyncOptions, 'tenant' | 'types'>): (key: string) => boolean {
  if (options.tenant === undefined && options.types === undefined) return () => true;
  const types = options.types === undefined ? undefined : new Set<string>(options.types);
  return (key) => {
    try {
      const parsed = parseKey(key);
      if (options.tenant !== undefined && parsed.tenant !== options.tenant) return false;
      return types === undefined || types.has(parsed.entityType);
    } catch {
      return false;
    }
  };
}

/** `resync-<UTC date and time>-<4 hex>`: sorts by start, never reused. */
export function newResyncId(now: Date, random: string): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').toLowerCase();
  return `resync-${stamp}-${random}`;
}

/** Prefix of the consumer groups of one resync: every stage's group is `<prefix><group>`. */
export function resyncGroupPrefix(basePrefix: string, id: string): string {
  return `${basePrefix}${id}.`;
}

/** Whether two option sets describe the same resync (a rerun resumes it). */
export function sameResync(a: ResyncOptions, b: ResyncOptions): boolean {
  const norm = (o: ResyncOptions) => JSON.stringify({ from: o.from, tenant: o.tenant ?? null, types: [...(o.types ?? [])].sort(), into: o.into ?? null });
  return norm(a) === norm(b);
}
