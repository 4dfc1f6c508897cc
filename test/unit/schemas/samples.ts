import type { SchemaName } from '../../../src/schemas/avsc-files.js';

/**
 * Valid sample values per schema, written fresh for the tests: `full` sets every field, `minimal`
 * only the fields without a default. `byVersion[n]` is a value as written with `v<n>.avsc`; add one
 * for every new version so the version test decodes a record written with it.
 */
const vector = Buffer.from(new Float32Array([0.25, -1.5, 3]).buffer);

const identity = {
  tenant: 'north-wind_2',
  store_id: 1,
  entity_id: 'SKU/42#blue ü',
  source_version: 1_767_350_400_000_123n,
  occurred_at: 1_767_350_400_000,
};

const documentHeader = {
  doc_key: 'north-wind_2/product/SKU%2F42%23blue%20%C3%BC/1',
  tenant: 'north-wind_2',
  entity_type: 'product',
  entity_id: 'SKU/42#blue ü',
  store_id: 1,
  source_version: 9_007_199_254_740_993n,
  occurred_at: 1_767_350_400_000,
  doc_type: 'product',
  doc_subtype: null,
  title: 'Trail lantern',
  url: 'https://shop.example/trail-lantern',
  text_hash: 'a'.repeat(64),
  payload_json: '{"sku":"SKU/42#blue ü","price":19.5}',
  payload_hash: 'b'.repeat(64),
};

const chunk = { id: `${documentHeader.doc_key}#0`, index: 0, text: 'A lantern for long trails.', hash: 'c'.repeat(64), token_count: 6 };

export interface Samples {
  full: Record<string, unknown>;
  minimal: Record<string, unknown>;
  byVersion: Record<number, Record<string, unknown>>;
}

const full: Record<SchemaName, Record<string, unknown>> = {
  product: {
    ...identity,
    sku: 'SKU/42#blue ü',
    name: 'Trail lantern',
    description: '<p>Bright <b>and</b> light.</p>',
    short_description: '<p>Bright.</p>',
    meta_title: 'Trail lantern',
    meta_description: 'A lantern for long trails',
    url_key: 'trail-lantern',
    categories: ['Outdoor', 'Lights'],
    brand: 'Fernweh',
    attributes: { color: 'blue', material: 'aluminium' },
    image_alt_texts: ['Lantern on a rock'],
    status: 'enabled',
    visibility: 4,
    price: 19.5,
    special_price: 17,
    special_from_date: '2026-01-01',
    special_to_date: '2026-01-31',
    currency: 'EUR',
    qty: 12,
    stock_status: 'in_stock',
  },
  category: {
    ...identity,
    name: 'Lights',
    description: '<p>Everything that glows.</p>',
    url_path: 'outdoor/lights',
    full_path: 'Outdoor > Lights',
    meta_title: 'Lights',
    meta_description: 'Lights for outdoors',
    product_count: 45,
    parent_names: ['Outdoor'],
    level: 3,
    is_active: true,
  },
  cms_page: {
    ...identity,
    identifier: 'returns-and-refunds',
    title: 'Returns',
    content: '<h2>Returns</h2><p>Thirty days.</p>',
    meta_title: 'Returns',
    meta_description: 'How returns work',
    content_heading: 'Returns and refunds',
    is_active: true,
    document_type_hint: 'policy',
  },
  cms_block: { ...identity, identifier: 'footer-hours', title: 'Opening hours', content: '<p>Mon–Fri 9–17</p>', is_active: false },
  promotion: {
    ...identity,
    name: 'Winter sale',
    description: 'Ten percent off lights',
    coupon_code: 'WINTER10',
    discount_amount: 10,
    discount_type: 'percentage',
    discount_action: 'by_percent',
    discount_step: 2,
    conditions_summary: 'Lights only, from 50 EUR',
    from_date: '2026-01-01',
    to_date: '2026-02-28',
    is_active: true,
  },
  product_price: { ...identity, sku: 'SKU/42#blue ü', price: 19.5, special_price: 17, special_from_date: '2026-01-01', special_to_date: null, currency: 'EUR' },
  product_stock: { ...identity, sku: 'SKU/42#blue ü', qty: 0, stock_status: 'out_of_stock', is_in_stock: false },
  order: {
    tenant: 'north-wind_2',
    store_id: 1,
    order_id: '100000417',
    increment_id: '000000417',
    source_version: 3n,
    occurred_at: 1_767_350_400_000,
    status: 'processing',
    currency: 'EUR',
    grand_total: 44,
    subtotal: 39,
    tax_total: 7.41,
    shipping_total: 5,
    discount_total: 0,
    items: [{ sku: 'SKU/42#blue ü', name: 'Trail lantern', qty: 2, price: 19.5, row_total: 39 }],
    customer_ref: 'c-8f2a',
    created_at: 1_767_350_000_000,
  },
  document: { ...documentHeader, text: 'Trail lantern. Bright and light.' },
  chunk_set: { ...documentHeader, chunks: [chunk], total_chunks: 1, truncated: false },
  vector_set: { ...documentHeader, model_id: 'hashing-3', dimension: 3, chunks: [{ ...chunk, vector }], touch: false },
  map_state: {
    topic: 'changes.product',
    source_version: 9_007_199_254_740_993n,
    occurred_at: 1_767_350_400_000,
    deleted: false,
    change_offset: 4_294_967_296n,
    value: Buffer.from([0, 0, 0, 0, 7, 2, 104, 105]),
    headers: { 'ragsync-correlation-id': 'c-1', 'ragsync-source-version': '9007199254740993' },
  },
};

const minimal: Record<SchemaName, Record<string, unknown>> = {
  product: { ...identity, sku: 'LAMP-1', name: 'Lamp' },
  category: { ...identity, name: 'Lights' },
  cms_page: { ...identity, identifier: 'about-us', title: 'About', content: '<p>We make lamps.</p>' },
  cms_block: { ...identity, identifier: 'notice', title: 'Notice', content: 'Closed on Monday' },
  promotion: { ...identity, name: 'Spring' },
  product_price: { ...identity, price: 3, currency: 'EUR' },
  product_stock: { ...identity, qty: 1, stock_status: 'in_stock', is_in_stock: true },
  order: {
    tenant: 't1',
    store_id: 0,
    order_id: '1',
    source_version: 1n,
    occurred_at: 0,
    status: 'new',
    currency: 'EUR',
    grand_total: 0,
    created_at: 0,
  },
  document: { ...documentHeader, doc_subtype: undefined, url: undefined, text: '' },
  chunk_set: { ...documentHeader, chunks: [], total_chunks: 0, truncated: false },
  vector_set: { ...documentHeader, model_id: 'm', dimension: 1, chunks: [], touch: true },
  map_state: { topic: 'changes.cms_block', source_version: 1n, occurred_at: 0, deleted: true, change_offset: 0n, headers: {} },
};

/** Values as written with versions before the latest, where a schema has more than one. */
const older: Partial<Record<SchemaName, Record<number, Record<string, unknown>>>> = {
  // promotion v2 added discount_action and discount_step.
  promotion: { 1: Object.fromEntries(Object.entries(full.promotion).filter(([field]) => field !== 'discount_action' && field !== 'discount_step')), 2: full.promotion },
};

export const SAMPLES: Record<SchemaName, Samples> = Object.fromEntries(
  (Object.keys(full) as SchemaName[]).map((name) => [name, { full: full[name], minimal: minimal[name], byVersion: older[name] ?? { 1: full[name] } }]),
) as unknown as Record<SchemaName, Samples>;
