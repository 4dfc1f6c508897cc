import type { z } from 'zod';
import type { Config } from '../../config/schema.js';

/** The entity filters of the configuration (`config.filters`). */
export type FilterConfig = Config['filters'];

export interface MapContext {
  filters: FilterConfig;
  /** Epoch milliseconds of "now", injected so expiry is testable. */
  now: number;
}

/** What a mapper makes of one change event; map-stage adds the header, key and hashes. */
export interface MappedDocument {
  title: string;
  /** Readable text to embed: never live fields (price, special price, qty, stock status). */
  text: string;
  docType: string;
  docSubtype: string | null;
  url: string | null;
  /** Metadata and live fields for the store's payload; serialised with sorted keys. */
  payload: Record<string, unknown>;
}

/**
 * One entity type's mapping. `schema` validates the decoded value; `filterReason` says why an
 * entity is not indexed (undefined: it is); `map` builds the document and throws a PermanentError
 * for a value it cannot map.
 */
export interface EntityMapper<V> {
  schema: z.ZodType<V>;
  filterReason(value: V, context: MapContext): string | undefined;
  map(value: V): MappedDocument;
}
