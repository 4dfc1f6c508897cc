import { configSchema } from '../../../src/config/schema.js';
import type { EntityType } from '../../../src/core/entities.js';
import { formatKey } from '../../../src/core/keys.js';
import type { InputRecord } from '../../../src/core/stage.js';

/** Sample change values, shaped as the runner hands them over after decoding. */
export const TENANT = 'alpine-outfitters';
export const STORE_ID = 1;
export const VERSION = 1_767_225_600_000_001n;
export const OCCURRED_AT = Date.UTC(2026, 10, 20, 9, 30);

export function defaultFilters(overrides: Record<string, unknown> = {}) {
  return { filters: configSchema.shape.filters.parse(overrides) };
}

function identity(entityId: string) {
  return { tenant: TENANT, store_id: STORE_ID, entity_id: entityId, source_version: VERSION, occurred_at: OCCURRED_AT };
}

export function product(overrides: Record<string, unknown> = {}) {
  return {
    ...identity('TR-200'),
    sku: 'TR-200',
    name: 'Ridgeline Trail Shoe',
    description:
      '<p>The Ridgeline is built for <strong>long days on rough ground</strong>.</p><h2>Upper</h2><p>A breathable mesh upper with a waterproof membrane keeps feet dry in wet grass.</p><h2>Sole</h2><ul><li>Sticky rubber outsole</li><li>5 mm lugs for mud</li></ul>',
    short_description: '<p>Light, grippy and waterproof.</p>',
    meta_title: 'Ridgeline Trail Shoe | Alpine Outfitters',
    meta_description: 'Waterproof trail running shoe with a sticky rubber sole.',
    url_key: 'ridgeline-trail-shoe',
    categories: ['Footwear > Trail Running', 'Sale'],
    brand: 'Kestrel',
    attributes: { material: 'Recycled mesh', color: 'Slate blue' },
    image_alt_texts: ['Side view of the Ridgeline shoe in slate blue'],
    status: 'enabled',
    visibility: 4,
    price: 139.95,
    special_price: 111.5,
    special_from_date: '2026-11-01',
    special_to_date: '2026-11-30',
    currency: 'EUR',
    qty: 37,
    stock_status: 'in_stock',
    ...overrides,
  };
}

export function category(overrides: Record<string, unknown> = {}) {
  return {
    ...identity('42'),
    name: 'Trail Running',
    description: '<p>Shoes and packs for running off the beaten track.</p>',
    url_path: 'footwear/trail-running',
    full_path: 'Footwear > Trail Running',
    meta_title: null,
    meta_description: null,
    product_count: 45,
    parent_names: ['Footwear'],
    level: 3,
    is_active: true,
    ...overrides,
  };
}

export const RETURNS_HTML = `<h1>Returns &amp; Refunds</h1>
<p>Not the right fit? You can return unworn items within <strong>30 days</strong> of delivery.</p>
<h2>How to return</h2>
<ol><li>Sign in to your account and open the order.</li><li>Choose the items and print the free label.</li><li>Drop the parcel at any post office.</li></ol>
<h2>Refunds</h2>
<p>We refund to the original payment method within 5 working days of receiving your parcel.</p>
<p>{{trans "Questions?"}} <a href="{{store url="contact"}}">Contact our team</a>.</p>`;

export function cmsPage(overrides: Record<string, unknown> = {}) {
  return {
    ...identity('returns'),
    identifier: 'returns',
    title: 'Returns & Refunds',
    content: RETURNS_HTML,
    meta_title: 'Returns',
    meta_description: 'Free returns within 30 days.',
    content_heading: null,
    is_active: true,
    document_type_hint: null,
    ...overrides,
  };
}

export function cmsBlock(overrides: Record<string, unknown> = {}) {
  return {
    ...identity('store-hours'),
    identifier: 'store-hours',
    title: 'Store hours',
    content: '<table><tr><th>Mon–Fri</th><td>9:00–18:30</td></tr><tr><th>Sat</th><td>9:00–16:00</td></tr></table><p>Closed on public holidays.</p>',
    is_active: true,
    ...overrides,
  };
}

export function promotion(overrides: Record<string, unknown> = {}) {
  return {
    ...identity('17'),
    name: 'Winter Trail Week',
    description: 'Save on all trail running gear for one week.',
    coupon_code: 'TRAIL20',
    discount_amount: 20,
    discount_type: 'percentage',
    conditions_summary: 'Orders of 50 EUR or more in the Trail Running category.',
    from_date: '2026-12-01',
    to_date: '2026-12-07',
    is_active: true,
    ...overrides,
  };
}

/** A decoded input record of `changes.<type>`; value null is a tombstone. */
export function changeRecord(entityType: EntityType, value: Record<string, unknown> | null, entityId?: string): InputRecord {
  const id = entityId ?? String(value?.entity_id);
  return {
    topic: `changes.${entityType}`,
    partition: 0,
    offset: '12',
    key: formatKey({ tenant: TENANT, entityType, entityId: id, storeId: STORE_ID }),
    value,
    headers: {},
    sourceVersion: VERSION,
    occurredAt: OCCURRED_AT,
  };
}
