import type { ChangeType } from '../../core/entities.js';
import {
  IssueCollector,
  readBoolean,
  readInteger,
  readNumber,
  readString,
  readStringList,
  readStringMap,
  type FieldIssue,
} from './fields.js';

/** The fields every change value carries, filled by the connector rather than the sender. */
export interface CommonFields {
  tenant: string;
  store_id: number;
  entity_id: string;
  source_version: bigint;
  /** Epoch milliseconds. */
  occurred_at: number;
}

export type ValueResult = { ok: true; value: Record<string, unknown> } | { ok: false; issues: FieldIssue[] };

type Data = Record<string, unknown>;
type Reader = (data: Data, issues: IssueCollector, common: CommonFields) => Data;

/** Magento sends status 1 (enabled) / 2 (disabled); files often say enabled/disabled or true/false. */
function readStatus(data: Data, issues: IssueCollector): 'enabled' | 'disabled' | undefined {
  const value = data.status;
  if (value === undefined || value === null || value === '') return 'enabled';
  const text = String(value).trim().toLowerCase();
  if (['1', 'enabled', 'true', 'active'].includes(text)) return 'enabled';
  if (['2', '0', 'disabled', 'false', 'inactive'].includes(text)) return 'disabled';
  return issues.add('status', `expected enabled, disabled, 1 or 2, got "${String(value)}"`);
}

/** Magento stock status is 1/0 (or a boolean); text such as `in_stock` is kept as it is. */
function readStockStatus(data: Data, issues: IssueCollector): string | null | undefined {
  const value = data.stock_status;
  if (value === undefined || value === null || value === '') return null;
  if (value === 1 || value === '1' || value === true) return 'in_stock';
  if (value === 0 || value === '0' || value === false) return 'out_of_stock';
  return readString(data, 'stock_status', issues);
}

const priceFields = (d: Data, i: IssueCollector) => ({
  price: readNumber(d, 'price', i),
  special_price: readNumber(d, 'special_price', i),
  special_from_date: readString(d, 'special_from_date', i),
  special_to_date: readString(d, 'special_to_date', i),
  currency: readString(d, 'currency', i),
});

/** The sku defaults to the entity id: ERPs and files key products by sku. */
const skuOf = (d: Data, i: IssueCollector, c: CommonFields) => (d.sku === undefined || d.sku === null || d.sku === '' ? c.entity_id : readString(d, 'sku', i));

const readers: Record<ChangeType, Reader> = {
  product: (d, i, c) => {
    const attributes = readStringMap(d, 'attributes', i);
    // Magento puts brand among the attributes; a top-level brand wins.
    const brand = readString(d, 'brand', i) ?? attributes?.brand ?? null;
    return {
      sku: skuOf(d, i, c),
      name: readString(d, 'name', i, { required: true }),
      description: readString(d, 'description', i),
      short_description: readString(d, 'short_description', i),
      meta_title: readString(d, 'meta_title', i),
      meta_description: readString(d, 'meta_description', i),
      url_key: readString(d, 'url_key', i),
      // Magento's module says `categories`; its data-extraction plan says `category_names`.
      categories: readStringList(d, d.categories === undefined ? 'category_names' : 'categories', i),
      brand,
      attributes,
      image_alt_texts: readStringList(d, 'image_alt_texts', i),
      status: readStatus(d, i),
      visibility: readInteger(d, 'visibility', i),
      ...priceFields(d, i),
      qty: readNumber(d, 'qty', i),
      stock_status: readStockStatus(d, i),
    };
  },
  category: (d, i) => ({
    name: readString(d, 'name', i, { required: true }),
    description: readString(d, 'description', i),
    url_path: readString(d, 'url_path', i),
    full_path: readString(d, 'full_path', i),
    meta_title: readString(d, 'meta_title', i),
    meta_description: readString(d, 'meta_description', i),
    product_count: readInteger(d, 'product_count', i),
    parent_names: readStringList(d, 'parent_names', i),
    level: readInteger(d, 'level', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  cms_page: (d, i, c) => ({
    identifier: d.identifier === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i, { required: true }),
    content: readString(d, 'content', i),
    meta_title: readString(d, 'meta_title', i),
    meta_description: readString(d, 'meta_description', i),
    content_heading: readString(d, 'content_heading', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
    document_type_hint: readString(d, 'document_type_hint', i),
  }),
  cms_block: (d, i, c) => ({
    identifier: d.identifier === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i),
    content: readString(d, 'content', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  promotion: (d, i) => ({
    name: readString(d, 'name', i, { required: true }),
    description: readString(d, 'description', i),
    coupon_code: readString(d, 'coupon_code', i),
    discount_amount: readNumber(d, 'discount_amount', i),
    discount_type: readString(d, 'discount_type', i),
    conditions_summary: readString(d, 'conditions_summary', i),
    from_date: readString(d, 'from_date', i),
    to_date: readString(d, 'to_date', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  product_price: (d, i, c) => ({ sku: skuOf(d, i, c), ...priceFields(d, i) }),
  product_stock: (d, i, c) => {
    const stockStatus = readStockStatus(d, i);
    const inStock = readBoolean(d, 'is_in_stock', i);
    return {
      sku: skuOf(d, i, c),
      qty: readNumber(d, 'qty', i),
      stock_status: stockStatus,
      is_in_stock: inStock ?? (stockStatus === null || stockStatus === undefined ? null : stockStatus === 'in_stock'),
    };
  },
};

/**
 * Builds the change value of `type` from the sender's `data`, mapping the spellings upstream
 * systems use onto the value fields of src/schemas (snake_case). Unknown data fields are ignored.
 * Issue paths start with `pathPrefix` (e.g. `data`), so a sender sees which of its fields is wrong.
 * The result still has to pass the schema check (see check-value.ts).
 */
export function buildChangeValue(type: ChangeType, data: Data, common: CommonFields, pathPrefix = 'data'): ValueResult {
  const issues = new IssueCollector(pathPrefix);
  const fields = readers[type](data, issues, common);
  if (!issues.ok) return { ok: false, issues: issues.issues };
  return { ok: true, value: { ...common, ...fields } };
}
