import type { ChangeType } from '../../core/entities.js';
import { MAX_NAME_BYTES } from './limits.js';
import {
  checkText,
  IssueCollector,
  own,
  readBoolean,
  readDate,
  readInteger,
  readNumber,
  readString,
  readStringList,
  readStringMap,
  describe,
  scalarText,
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

/** `warnings` name values that were kept but not understood (an unknown enum value). */
export type ValueResult = { ok: true; value: Record<string, unknown>; warnings: FieldIssue[] } | { ok: false; issues: FieldIssue[] };

type Data = Record<string, unknown>;
/** Reads `data` into the whole change value: `common` and the fields of the type. */
type Reader = (data: Data, issues: IssueCollector, common: CommonFields) => Data;

/** A scalar as lowercase text with runs of spaces, `_` and `-` made one space; undefined for anything else. */
function token(value: unknown): string | undefined {
  const text = scalarText(value);
  return text === undefined ? undefined : text.trim().toLowerCase().replace(/[\s_-]+/g, ' ');
}

/**
 * Product status. Magento 2.4 has two (Catalog\Model\Product\Attribute\Source\Status): 1
 * Enabled and 2 Disabled, sent as numbers, numeric strings or their labels; files say
 * enabled/disabled, true/false, active/inactive. Any other value is kept as `disabled` with a
 * warning: Magento's storefront shows only status 1 (getVisibleStatusIds), so a product with any
 * other status is not shown there either.
 */
function readStatus(data: Data, issues: IssueCollector): 'enabled' | 'disabled' | undefined {
  const value = own(data, 'status');
  if (value === undefined || value === null || value === '') return 'enabled';
  const text = token(value);
  if (text === undefined) return issues.add('status', `expected enabled, disabled, 1 or 2, got ${describe(value)}`);
  if (['1', 'enabled', 'enable', 'true', 'active', 'yes'].includes(text)) return 'enabled';
  if (['2', '0', 'disabled', 'disable', 'false', 'inactive', 'no'].includes(text)) return 'disabled';
  issues.warn('status', `unknown status ${describe(value)} kept as disabled (Magento shows only status 1, Enabled)`);
  return 'disabled';
}

/**
 * Stock status. Magento's Stock\Status is 1 In Stock and 0 Out of Stock (numbers, numeric strings,
 * booleans or labels); files say in_stock, instock, out of stock. Any other value is kept as
 * unknown (null) with a warning.
 */
function readStockStatus(data: Data, issues: IssueCollector): 'in_stock' | 'out_of_stock' | null | undefined {
  const value = own(data, 'stock_status');
  if (value === undefined || value === null || value === '') return null;
  const text = token(value)?.replace(/ /g, '');
  if (text === undefined) return issues.add('stock_status', `expected in_stock, out_of_stock, 1 or 0, got ${describe(value)}`);
  if (['1', 'true', 'instock', 'yes'].includes(text)) return 'in_stock';
  if (['0', 'false', 'outofstock', 'no'].includes(text)) return 'out_of_stock';
  issues.warn('stock_status', `unknown stock status ${describe(value)} kept as unknown`);
  return null;
}

/** Magento's visibility labels (Catalog\Model\Product\Visibility), normalised by token(). */
const VISIBILITY_LABELS: Record<string, number> = {
  'not visible individually': 1,
  catalog: 2,
  search: 3,
  'catalog, search': 4,
  'catalog and search': 4,
  both: 4,
};

/**
 * Product visibility: Magento's 1 Not Visible Individually, 2 Catalog, 3 Search, 4 Catalog, Search,
 * as numbers, numeric strings or labels. Any other value is kept as unknown (null) with a warning.
 */
function readVisibility(data: Data, issues: IssueCollector): number | null | undefined {
  const value = own(data, 'visibility');
  if (value === undefined || value === null || value === '') return null;
  const text = token(value);
  if (text === undefined) return issues.add('visibility', `expected 1 to 4 or a Magento visibility label, got ${describe(value)}`);
  const label = text.replace(/ ?, ?/g, ', ');
  const number = /^\d+$/.test(text) ? Number(text) : Object.hasOwn(VISIBILITY_LABELS, label) ? VISIBILITY_LABELS[label] : undefined;
  if (number !== undefined && number >= 1 && number <= 4) return number;
  issues.warn('visibility', `unknown visibility ${describe(value)} kept as unknown`);
  return null;
}

/** Magento rule actions (SalesRule\Model\Rule, CatalogRule actions) and what kind of discount each is. */
const RULE_ACTIONS: Record<string, 'percentage' | 'fixed' | null> = {
  by_percent: 'percentage',
  by_fixed: 'fixed',
  cart_fixed: 'fixed',
  // Buy X, get Y free: neither a percentage nor an amount off.
  buy_x_get_y: null,
  // Catalog rules that set the price to a percentage of, or an amount below, the original.
  to_percent: null,
  to_fixed: null,
};

/**
 * The discount of a rule: `discount_type` or Magento's own column `simple_action`. ragsync's
 * `percentage`/`fixed` are kept as they are; a Magento action becomes `discount_action` (kept
 * verbatim, so the document can say what kind of offer it is) and, where it is one, the
 * percentage/fixed `discount_type`. An action ragsync does not know (an extension's) is kept as
 * `discount_action` text with a warning, never refused.
 */
function readDiscount(data: Data, issues: IssueCollector): { discount_type: 'percentage' | 'fixed' | null; discount_action: string | null } | undefined {
  const field = own(data, 'discount_type') !== undefined && own(data, 'discount_type') !== null && own(data, 'discount_type') !== '' ? 'discount_type' : 'simple_action';
  const value = own(data, field);
  if (value === undefined || value === null || value === '') return { discount_type: null, discount_action: null };
  const raw = scalarText(value);
  if (raw === undefined) return issues.add(field, `expected a rule action such as by_percent or buy_x_get_y, got ${describe(value)}`);
  const text = raw.trim().toLowerCase();
  if (text === 'percentage' || text === 'percent') return { discount_type: 'percentage', discount_action: null };
  if (text === 'fixed') return { discount_type: 'fixed', discount_action: null };
  if (Object.hasOwn(RULE_ACTIONS, text)) return { discount_type: RULE_ACTIONS[text]!, discount_action: text };
  const kept = checkText(raw.trim(), field, issues, MAX_NAME_BYTES);
  if (kept === undefined) return undefined;
  issues.warn(field, `unknown rule action ${describe(value)} kept as text`);
  return { discount_type: null, discount_action: kept };
}

/** Required positive-or-zero number fields of aspects. */
function requireNumber(data: Data, field: string, issues: IssueCollector): number | undefined {
  const value = readNumber(data, field, issues);
  return value === null ? issues.add(field, 'is required') : value;
}

/** Page and block content is required text; an empty page is sent as "". */
const readContent = (d: Data, i: IssueCollector) => (own(d, 'content') === '' ? '' : readString(d, 'content', i, { required: true }));

const priceFields = (d: Data, i: IssueCollector) => ({
  price: readNumber(d, 'price', i),
  special_price: readNumber(d, 'special_price', i),
  special_from_date: readDate(d, 'special_from_date', i),
  special_to_date: readDate(d, 'special_to_date', i),
  currency: readString(d, 'currency', i),
});

/** The sku defaults to the entity id: ERPs and files key products by sku. */
const skuOf = (d: Data, i: IssueCollector, c: CommonFields) => {
  const sku = own(d, 'sku');
  return sku === undefined || sku === null || sku === '' ? c.entity_id : readString(d, 'sku', i);
};

/*
 * Each reader returns the whole value, the common fields first, as one object literal: a value is
 * built once, in one shape per type, with no intermediate object to copy from (no spread, no
 * Object.assign; V8 builds a spread into a literal property by property through fresh hidden
 * classes). Fields are read in the order their issues are reported.
 */
const readers: Record<ChangeType, Reader> = {
  product: (d, i, c) => {
    const attributes = readStringMap(d, 'attributes', i);
    // Magento puts brand among the attributes; a top-level brand wins.
    const brand = readString(d, 'brand', i) ?? attributes?.brand ?? null;
    return {
      tenant: c.tenant,
      store_id: c.store_id,
      entity_id: c.entity_id,
      source_version: c.source_version,
      occurred_at: c.occurred_at,
      sku: skuOf(d, i, c),
      name: readString(d, 'name', i, { required: true }),
      description: readString(d, 'description', i),
      short_description: readString(d, 'short_description', i),
      meta_title: readString(d, 'meta_title', i),
      meta_description: readString(d, 'meta_description', i),
      url_key: readString(d, 'url_key', i),
      // Magento's module says `categories`; its data-extraction plan says `category_names`.
      categories: readStringList(d, own(d, 'categories') === undefined ? 'category_names' : 'categories', i),
      brand,
      attributes,
      image_alt_texts: readStringList(d, 'image_alt_texts', i),
      status: readStatus(d, i),
      visibility: readVisibility(d, i),
      price: readNumber(d, 'price', i),
      special_price: readNumber(d, 'special_price', i),
      special_from_date: readDate(d, 'special_from_date', i),
      special_to_date: readDate(d, 'special_to_date', i),
      currency: readString(d, 'currency', i),
      qty: readNumber(d, 'qty', i),
      stock_status: readStockStatus(d, i),
    };
  },
  category: (d, i, c) => ({
    tenant: c.tenant,
    store_id: c.store_id,
    entity_id: c.entity_id,
    source_version: c.source_version,
    occurred_at: c.occurred_at,
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
    tenant: c.tenant,
    store_id: c.store_id,
    entity_id: c.entity_id,
    source_version: c.source_version,
    occurred_at: c.occurred_at,
    identifier: own(d, 'identifier') === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i, { required: true }),
    content: readContent(d, i),
    meta_title: readString(d, 'meta_title', i),
    meta_description: readString(d, 'meta_description', i),
    content_heading: readString(d, 'content_heading', i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
    document_type_hint: readString(d, 'document_type_hint', i),
  }),
  cms_block: (d, i, c) => ({
    tenant: c.tenant,
    store_id: c.store_id,
    entity_id: c.entity_id,
    source_version: c.source_version,
    occurred_at: c.occurred_at,
    identifier: own(d, 'identifier') === undefined ? c.entity_id : readString(d, 'identifier', i, { required: true }),
    title: readString(d, 'title', i, { required: true }),
    content: readContent(d, i),
    is_active: readBoolean(d, 'is_active', i) ?? true,
  }),
  promotion: (d, i, c) => {
    const name = readString(d, 'name', i, { required: true });
    const description = readString(d, 'description', i);
    const couponCode = readString(d, 'coupon_code', i);
    const discountAmount = readNumber(d, 'discount_amount', i);
    const discount = readDiscount(d, i);
    return {
      tenant: c.tenant,
      store_id: c.store_id,
      entity_id: c.entity_id,
      source_version: c.source_version,
      occurred_at: c.occurred_at,
      name,
      description,
      coupon_code: couponCode,
      discount_amount: discountAmount,
      // Undefined only with an issue reported: the value is then not used.
      discount_type: discount?.discount_type,
      discount_action: discount?.discount_action,
      // Magento's "Discount Qty Step (Buy X)"; 0 means none.
      discount_step: readNumber(d, 'discount_step', i) || null,
      conditions_summary: readString(d, 'conditions_summary', i),
      from_date: readDate(d, 'from_date', i),
      to_date: readDate(d, 'to_date', i),
      is_active: readBoolean(d, 'is_active', i) ?? true,
    };
  },
  product_price: (d, i, c) => {
    const sku = skuOf(d, i, c);
    const prices = priceFields(d, i);
    return {
      tenant: c.tenant,
      store_id: c.store_id,
      entity_id: c.entity_id,
      source_version: c.source_version,
      occurred_at: c.occurred_at,
      sku,
      price: requireNumber(d, 'price', i),
      special_price: prices.special_price,
      special_from_date: prices.special_from_date,
      special_to_date: prices.special_to_date,
      currency: readString(d, 'currency', i, { required: true }),
    };
  },
  product_stock: (d, i, c) => {
    const qty = requireNumber(d, 'qty', i);
    const inStock = readBoolean(d, 'is_in_stock', i);
    // An ERP often sends only one of the three: the others follow from it.
    const status = readStockStatus(d, i) ?? (inStock === null ? (qty === undefined ? null : qty > 0 ? 'in_stock' : 'out_of_stock') : inStock ? 'in_stock' : 'out_of_stock');
    const sku = skuOf(d, i, c);
    return {
      tenant: c.tenant,
      store_id: c.store_id,
      entity_id: c.entity_id,
      source_version: c.source_version,
      occurred_at: c.occurred_at,
      sku,
      qty,
      stock_status: status,
      is_in_stock: inStock ?? (status === null || status === undefined ? null : status === 'in_stock'),
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
  const value = readers[type](data, issues, common);
  if (!issues.ok) return { ok: false, issues: issues.issues };
  return { ok: true, value, warnings: issues.warnings };
}
