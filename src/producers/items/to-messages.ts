import type { ChangeMessage } from '../../core/changes.js';
import { formatKey } from '../../core/keys.js';
import { isAspectType } from '../../core/entities.js';
import { HEADERS } from '../../core/records.js';
import { idProblem, type ChangeItem } from './change-item.js';
import type { FieldIssue } from './fields.js';
import { MAX_KEY_BYTES } from './limits.js';
import { buildChangeValue } from './values.js';
import { checkChangeValue } from './check-value.js';

export interface ItemContext {
  tenant: string;
  /** The tenant's configured store ids (config `tenants.<t>.stores`). */
  stores: readonly number[];
  sourceVersion: bigint;
  /** Epoch milliseconds. */
  occurredAt: number;
  /** Prefix of issue paths about `data`; `data` by default. */
  dataPath?: string;
}

/** `warnings` name values that were kept but not understood (an unknown enum value). */
export type MessagesResult = { ok: true; messages: ChangeMessage[]; warnings: FieldIssue[] } | { ok: false; issues: FieldIssue[] };

/**
 * Store id 0 is Magento's default scope: it applies to every store of the tenant. For a tenant
 * whose configured stores do not include 0, a change for store 0 therefore becomes one record per
 * configured store (docs/design.md §2 for deletes; saves follow the same rule so a default-scope save
 * and its later delete always address the same keys).
 */
export function storesFor(storeId: number, tenantStores: readonly number[]): number[] {
  if (storeId !== 0 || tenantStores.length === 0 || tenantStores.includes(0)) return [storeId];
  return [...tenantStores];
}

/**
 * Turns one parsed item into the change messages to publish: a value checked against the change
 * schema for a save, a tombstone for a delete (its version and time travel in the headers too).
 * Aspects (product_price, product_stock) are keyed like their product.
 */
export function itemToMessages(item: ChangeItem, context: ItemContext): MessagesResult {
  const entityType = isAspectType(item.type) ? 'product' : item.type;
  // Catalog files and ERP events reach here without parseChangeItem's checks of the id.
  const badId = idProblem(item.id);
  if (badId !== undefined) return { ok: false, issues: [{ path: 'id', message: badId }] };
  const stores = storesFor(item.storeId, context.stores);
  const warnings: FieldIssue[] = [];
  const headers = {
    [HEADERS.sourceVersion]: context.sourceVersion.toString(),
    [HEADERS.occurredAt]: String(context.occurredAt),
  };
  const messages: ChangeMessage[] = [];
  for (const storeId of stores) {
    let key: string;
    try {
      key = formatKey({ tenant: context.tenant, entityType, entityId: item.id, storeId });
    } catch (error) {
      return { ok: false, issues: [{ path: 'id', message: (error as Error).message }] };
    }
    if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return { ok: false, issues: [{ path: 'id', message: `makes a record key longer than ${MAX_KEY_BYTES} bytes` }] };
    let value: Record<string, unknown> | null = null;
    if (item.action === 'save') {
      const common = {
        tenant: context.tenant,
        store_id: storeId,
        entity_id: item.id,
        source_version: context.sourceVersion,
        occurred_at: context.occurredAt,
      };
      const built = buildChangeValue(item.type, item.data ?? {}, common, context.dataPath ?? 'data');
      if (!built.ok) return built;
      // Every store of an expanded item reads the same data: its warnings once.
      if (warnings.length === 0) warnings.push(...built.warnings);
      const checked = checkChangeValue(item.type, built.value, context.dataPath ?? 'data');
      if (!checked.ok) return checked;
      value = checked.value;
    }
    messages.push({ type: item.type, key, value, sourceVersion: context.sourceVersion, occurredAt: context.occurredAt, headers });
  }
  return { ok: true, messages, warnings };
}
