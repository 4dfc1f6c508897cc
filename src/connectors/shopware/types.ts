/**
 * The parts of Shopware's Admin API ragsync uses (docs/connectors/shopware.md), as Shopware 6.5+
 * sends and takes them. Only the fields read or written here are typed.
 */

/** One entry of an error body's `errors[]` (ErrorResponseFactory, WriteException). */
export interface ShopwareErrorEntry {
  code?: string;
  status?: string;
  title?: string;
  detail?: string | null;
  /** `/<operation>/<record index>/<field>` for a sync write error. */
  source?: { pointer?: string };
  meta?: { parameters?: Record<string, unknown> };
}

/** The id of a sync payload item: 32 hex digits, or (6.5.2+) resolved from the product number. */
export type SyncId = string | { resolver: 'product.number'; value: string; nullOnMissing?: boolean };

/** One operation of a `/api/_action/sync` body, under a name of the caller's choice. */
export interface SyncOperation {
  entity: string;
  action: 'upsert' | 'delete';
  payload: Record<string, unknown>[];
}

export type SyncOperations = Record<string, SyncOperation>;

/** `indexing-behavior`: queue the indexers (what ragsync uses), skip them, or (unset) index in the request. */
export type IndexingBehavior = 'use-queue-indexing' | 'disable-indexing';

export interface SyncOptions {
  indexingBehavior?: IndexingBehavior;
}

/** A 200 answer of the sync endpoint. */
export interface SyncResponse {
  data?: Record<string, string[]>;
  notFound?: unknown;
  deleted?: unknown;
}

/** The documented criteria subset ragsync sends to `/api/search/<entity>`. */
export type CriteriaFilter =
  | { type: 'equals'; field: string; value: string | number | boolean | null }
  | { type: 'equalsAny'; field: string; value: (string | number)[] }
  | { type: 'multi'; operator: 'and' | 'or'; queries: CriteriaFilter[] };

export interface Criteria {
  filter?: CriteriaFilter[];
  includes?: Record<string, string[]>;
  /** At most 500 (`shopware.api.max_limit`). */
  limit?: number;
  page?: number;
  /** 0: no total (fastest), 1: exact total, 2: whether there is a next page. */
  'total-count-mode'?: 0 | 1 | 2;
}

export interface SearchResponse<T> {
  total: number;
  data: T[];
}

/** A product as ragsync reads it back (only what the includes ask for is present). */
export interface ShopwareProduct {
  id: string;
  productNumber?: string;
  customFields?: Record<string, unknown> | null;
  price?: ShopwarePrice[] | null;
  stock?: number;
}

export interface ShopwarePrice {
  currencyId: string;
  gross: number;
  net: number;
  linked: boolean;
}

/** Shopware's id of the system default currency; every price array needs an entry for it. */
export const DEFAULT_CURRENCY_ID = 'b7d2554b0ce847cd82f3ac9bd1c0dfca';

/** The Admin API's page size ceiling (`shopware.api.max_limit`). */
export const MAX_SEARCH_LIMIT = 500;
