import type { Schemas } from '@qdrant/js-client-rest';
import type { SearchFilter } from '../vector-store.js';

type Filter = Schemas['Filter'];
type FieldCondition = Schemas['FieldCondition'];

const match = (key: string, value: string | number | boolean): FieldCondition => ({ key, match: { value } });

/**
 * The store's filter as a Qdrant filter: every given field must match; `category` matches when it
 * is one of the array's values, the price bounds are a range on `price`.
 */
export function toQdrantFilter(filter: SearchFilter | undefined): Filter | undefined {
  const must: FieldCondition[] = [];
  if (filter?.tenant !== undefined) must.push(match('tenant', filter.tenant));
  if (filter?.docType !== undefined) must.push(match('doc_type', filter.docType));
  if (filter?.storeId !== undefined) must.push(match('store_id', filter.storeId));
  if (filter?.docKey !== undefined) must.push(match('doc_key', filter.docKey));
  if (filter?.category !== undefined) must.push(match('categories', filter.category));
  if (filter?.minPrice !== undefined || filter?.maxPrice !== undefined) {
    must.push({ key: 'price', range: { ...(filter.minPrice === undefined ? {} : { gte: filter.minPrice }), ...(filter.maxPrice === undefined ? {} : { lte: filter.maxPrice }) } });
  }
  if (filter?.stockStatus !== undefined) must.push(match('stock_status', filter.stockStatus));
  return must.length === 0 ? undefined : { must };
}

export function docFilter(docKey: string): Filter {
  return { must: [match('doc_key', docKey)] };
}

/** The document's points except `keepIds`. */
export function docFilterExcept(docKey: string, keepIds: string[]): Filter {
  return keepIds.length === 0 ? docFilter(docKey) : { must: [match('doc_key', docKey)], must_not: [{ has_id: keepIds }] };
}

export const liveHeadsFilter: Filter = { must: [match('live', true)] };
export const deadHeadsFilter: Filter = { must: [match('live', false)] };
