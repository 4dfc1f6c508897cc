import { createHash } from 'node:crypto';
import { isEntityType, type EntityType } from '../../core/entities.js';
import { PermanentError } from '../../core/errors.js';
import { parseKey } from '../../core/keys.js';
import type { SinkRecord } from '../../core/sink.js';

/**
 * Change records as items of the Magento RagSync webhook format (module README "Webhook Payload
 * Format"; docs/connectors/webhook-forwarder.md). Pure: no I/O.
 *
 * `data` carries the field names the module sends and ragsync's own ingress reads
 * (src/producers/items/values.ts), with Magento's own encodings where Magento has one: product
 * `status` 1 Enabled / 2 Disabled, `stock_status` 1 / 0, `is_active` 1 / 0. Every field of the
 * change value is sent, nulls included: an item is the whole entity, never a patch.
 */
export interface MagentoItem {
  type: EntityType;
  id: string;
  action: 'save' | 'delete';
  store_id: number;
  /** The change's own time (ISO 8601): module builds may send it, ragsync's ingress reads it. */
  updated_at: string;
  data?: Record<string, unknown>;
}

export interface MagentoBatch {
  type: 'batch';
  batch_id: string;
  timestamp: string;
  items: MagentoItem[];
}

/** Why a record is not sent: it belongs to another store, or its topic has no Magento item type. */
export type Skip = 'store' | 'aspect';

export type ItemResult = { item: MagentoItem } | { skip: Skip };

type Value = Record<string, unknown>;

const bit = (value: unknown) => (value === null || value === undefined ? null : value ? 1 : 0);

/** Each entity's data, in the module's field names. */
const DATA: Record<EntityType, (v: Value) => Value> = {
  product: (v) => ({
    sku: v.sku,
    name: v.name,
    description: v.description,
    short_description: v.short_description,
    meta_title: v.meta_title,
    meta_description: v.meta_description,
    url_key: v.url_key,
    categories: v.categories,
    brand: v.brand,
    attributes: v.attributes,
    image_alt_texts: v.image_alt_texts,
    // Catalog\Model\Product\Attribute\Source\Status: 1 Enabled, 2 Disabled.
    status: v.status === 'disabled' ? 2 : 1,
    visibility: v.visibility,
    price: v.price,
    special_price: v.special_price,
    special_from_date: v.special_from_date,
    special_to_date: v.special_to_date,
    currency: v.currency,
    qty: v.qty,
    stock_status: v.stock_status === null || v.stock_status === undefined ? null : v.stock_status === 'in_stock' ? 1 : 0,
  }),
  category: (v) => ({
    name: v.name,
    description: v.description,
    url_path: v.url_path,
    full_path: v.full_path,
    meta_title: v.meta_title,
    meta_description: v.meta_description,
    product_count: v.product_count,
    parent_names: v.parent_names,
    level: v.level,
    is_active: bit(v.is_active),
  }),
  cms_page: (v) => ({
    identifier: v.identifier,
    title: v.title,
    content: v.content,
    meta_title: v.meta_title,
    meta_description: v.meta_description,
    content_heading: v.content_heading,
    is_active: bit(v.is_active),
    document_type_hint: v.document_type_hint,
  }),
  cms_block: (v) => ({ identifier: v.identifier, title: v.title, content: v.content, is_active: bit(v.is_active) }),
  promotion: (v) => ({
    name: v.name,
    description: v.description,
    coupon_code: v.coupon_code,
    discount_amount: v.discount_amount,
    // Magento's rule action when known (`by_percent`, `buy_x_get_y`, …) says more than
    // percentage/fixed, and a receiver derives the type from it; `simple_action` is its column.
    discount_type: v.discount_action ?? v.discount_type,
    simple_action: v.discount_action,
    discount_step: v.discount_step,
    conditions_summary: v.conditions_summary,
    from_date: v.from_date,
    to_date: v.to_date,
    is_active: bit(v.is_active),
  }),
};

/**
 * One record as an item, or why it is not sent. Throws a PermanentError for a record that cannot
 * be an item at all (an unknown topic, an unreadable key, a save without a value object).
 */
export function toMagentoItem(record: SinkRecord, tenant: string, stores: readonly number[] | undefined): ItemResult {
  const name = record.topic.startsWith('changes.') ? record.topic.slice('changes.'.length) : '';
  const key = parseKey(record.key);
  if (key.tenant !== tenant) {
    throw new PermanentError(`record of tenant ${key.tenant} reached the webhook receivers of tenant ${tenant}`, { code: 'wrong_tenant' });
  }
  if (name === 'product_price' || name === 'product_stock') return { skip: 'aspect' };
  if (!isEntityType(name)) throw new PermanentError(`the webhook forwarder cannot send records of topic ${record.topic}`, { code: 'unexpected_topic' });
  if (stores !== undefined && !stores.includes(key.storeId)) return { skip: 'store' };
  const item: MagentoItem = {
    type: name,
    id: key.entityId,
    action: record.value === null ? 'delete' : 'save',
    store_id: key.storeId,
    updated_at: new Date(record.occurredAt).toISOString(),
  };
  if (record.value !== null) {
    if (typeof record.value !== 'object' || Array.isArray(record.value)) {
      throw new PermanentError(`record ${record.key} of ${record.topic} has no value object`, { code: 'invalid_value' });
    }
    item.data = DATA[name](record.value as Value);
  }
  return { item };
}

/**
 * The batch id of a set of records: the same records (keys and versions, in order) give the same
 * id, so a resend after a lost answer is recognised by the receiver's batch dedupe. The tenant and
 * receiver name keep ids of different receivers apart.
 */
export function batchIdOf(tenant: string, receiver: string, records: readonly SinkRecord[]): string {
  const hash = createHash('sha256').update(`${tenant}\n${receiver}\n`);
  for (const r of records) hash.update(`${r.topic}\n${r.key}\n${r.sourceVersion}\n${r.value === null ? 'delete' : 'save'}\n`);
  return `ragsync-${hash.digest('hex').slice(0, 40)}`;
}

export function batchBody(batchId: string, items: MagentoItem[], nowMs: number): MagentoBatch {
  return { type: 'batch', batch_id: batchId, timestamp: new Date(nowMs).toISOString(), items };
}
