import type { ChangeType } from '../../core/entities.js';

/**
 * The ERP's event names (the Redis pub/sub channels of the WooCommerce sync architecture's
 * SyncEventHandler) and the change each becomes. Stock and price events are aspects with their
 * own topics; product and category events must carry the full entity (a compacted topic keeps
 * only the last value per key, so a partial product would replace the whole one). The `*.deleted`
 * events are ours: the ERP's list has none, but a bridge that cannot delete leaves stale entries.
 */
export const ERP_CHANNELS: Readonly<Record<string, { type: ChangeType; action: 'save' | 'delete' }>> = {
  'inventory.stock_changed': { type: 'product_stock', action: 'save' },
  'inventory.stock_updated': { type: 'product_stock', action: 'save' },
  'pricing.price_changed': { type: 'product_price', action: 'save' },
  'pricing.price_updated': { type: 'product_price', action: 'save' },
  'product.created': { type: 'product', action: 'save' },
  'product.updated': { type: 'product', action: 'save' },
  'product.category_changed': { type: 'product', action: 'save' },
  'product.image_added': { type: 'product', action: 'save' },
  'product.image_updated': { type: 'product', action: 'save' },
  'product.deleted': { type: 'product', action: 'delete' },
  'category.created': { type: 'category', action: 'save' },
  'category.updated': { type: 'category', action: 'save' },
  'category.deleted': { type: 'category', action: 'delete' },
};

export const ERP_CHANNEL_NAMES = Object.keys(ERP_CHANNELS);
