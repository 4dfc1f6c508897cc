import type { ChangeType } from '../../core/entities.js';
import {
  IssueCollector,
  readBoolean,
  readDate,
  readInteger,
  readNumber,
  readString,
  readStringList,
  readStringMap,
  describe,
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

/** Magento stock status is 1/0 (or a boolean); files say `in_stock`, `In stock`, `outofstock`. */
function readStockStatus(data: Data, issues: IssueCollector): 'in_stock' | 'out_of_stock' | null | undefined {
  const value = data.stock_status;
  if (value === undefined || value === null || value === '') return null;
  const text = String(value).trim().toLowerCase().replace(/[\s_-]/g, '');
  if (['1', 'true', 'instock'].includes(text)) return 'in_stock';
  if (['0', 'false', 'outofstock'].includes(text)) return 'out_of_stock';
  return issues.add('stock_status', `expected in_stock, out_of_stock, 1 or 0, got ${describe(value)}`);
}

/** Magento cart rules say by_percent / by_fixed / cart_fixed; the value knows percentage | fixed. */
function readDiscountType(data: Data, issues: IssueCollector): 'percentage' | 'fixed' | null | undefined {
  const value = data.discount_type;
  if (value === undefined || value === null || value === '') return null;
  const text = String(value).trim().toLowerCase();
  if (['percentage', 'percent', 'by_percent'].includes(text)) return 'percentage';
  if (['fixed', 'by_fixed', 'cart_fixed'].includes(text)) return 'fixed';
  return issues.add('discount_type', `expected percentage or fixed (by_percent, by_fixed, cart_fixed), got ${describe(value)}`);
}

/** Magento visibility: 1 not visible individually, 2 catalog, 3 search, 4 catalog and search. */
function readVisibility(data: Data, issues: IssueCollector): number | null | undefined {
  const value = readInteger(data, 'visibility', issues);
  if (value === null || value === undefined || (value >= 1 && value <= 4)) return value;
  return issues.add('visibility', `expected 1 to 4, got ${value}`);
}

/** Required positive-or-zero number fields of aspects. */
function requireNumber(data: Data, field: string, issues: IssueCollector): number | undefined {
  const value = readNumber(data, field, issues);
  return value === null ? issues.add(field, 'is required') : value;
}

/** Page and block content is required text; an empty page is sent as "". */
const readContent = (d: Data, i: IssueCollector) => (d.content === '' ? '' : readString(d, 'content', i, { required: true }));

const priceFields = (d: Data, i: IssueCollector) => ({
  price: readNumber(d, 'price', i),
  special_price: readNumber(d, 'special_price', i),
  special_from_date: readDate(d, 'special_from_date', i),
  special_to_date: readDate(d, 'special_to_date', i),
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
      visibility: readVisibility(d, i),
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
    // Magento's root is level 1 and its children 2; a sender that omits it gets the schema default.
    level: readInteger(d, 'level', i) ?? 2,
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  cms_page: (d, i, c) => ({
    identifier: d.identifier === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i, { required: true }),
    content: readContent(d, i),
    meta_title: readString(d, 'meta_title', i),
    meta_description: readString(d, 'meta_description', i),
    content_heading: readString(d, 'content_heading', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
    document_type_hint: readString(d, 'document_type_hint', i),
  }),
  cms_block: (d, i, c) => ({
    identifier: d.identifier === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i, { required: true }),
    content: readContent(d, i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  promotion: (d, i) => ({
    name: readString(d, 'name', i, { required: true }),
    description: readString(d, 'description', i),
    coupon_code: readString(d, 'coupon_code', i),
    discount_amount: readNumber(d, 'discount_amount', i),
    discount_type: readDiscountType(d, i),
    conditions_summary: readString(d, 'conditions_summary', i),
    from_date: readDate(d, 'from_date', i),
    to_date: readDate(d, 'to_date', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  product_price: (d, i, c) => ({
    sku: skuOf(d, i, c),
    ...priceFields(d, i),
    price: requireNumber(d, 'price', i),
    currency: readString(d, 'currency', i, { required: true }),
  }),
  product_stock: (d, i, c) => {
    const qty = requireNumber(d, 'qty', i);
    const inStock = readBoolean(d, 'is_in_stock', i);
    // An ERP often sends only one of the three: the others follow from it.
    const status = readStockStatus(d, i) ?? (inStock === null ? (qty === undefined ? null : qty > 0 ? 'in_stock' : 'out_of_stock') : inStock ? 'in_stock' : 'out_of_stock');
    return { sku: skuOf(d, i, c), qty, stock_status: status, is_in_stock: inStock ?? (status === null || status === undefined ? null : status === 'in_stock') };
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
