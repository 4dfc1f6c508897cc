import type { ChangeMessage } from '../../core/changes.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { parseChangeItem } from '../items/change-item.js';
import { describe, type FieldIssue } from '../items/fields.js';
import { parseEventTime } from '../items/timestamp.js';
import { itemToMessages } from '../items/to-messages.js';
import { ERP_CHANNELS } from './channels.js';

/**
 * An ERP event (docs/connectors/erp-events.md), the JSON message of a channel or the `payload`
 * field of a stream entry:
 *
 *   {"tenant":"acme","store_id":1,"sku":"ABC123","occurred_at":"2026-01-02T10:30:00Z",
 *    "version":17,"data":{"price":19.9,"currency":"EUR"}}
 *
 * The id is `id`, `sku`, `product_id` or `category_id` (first present). Without `data`, the
 * event's other fields are the data (a flat `{"sku":"A","qty":3}` works). `version`, when given,
 * is the source_version; otherwise occurred_at in ms × 1e6 + `subIndex` (the stream entry's
 * sequence number), the nanosecond scale every connector uses.
 */
export interface ErpEventOptions {
  /** Tenant of events that name none. */
  tenant?: string;
  storesOf: (tenant: string) => readonly number[] | undefined;
  /** Currency of price events that name none. */
  defaultCurrency?: string;
  /** Used when the event has no time: the stream entry's time, or now for pub/sub. */
  fallbackMillis: number;
  subIndex?: number;
  /** The bridge's clock (epoch ms), for the time window of `occurred_at`. @defaultValue Date.now() */
  nowMs?: number;
  /** How far ahead of the clock an event time may lie (config `ingress.maxFutureSeconds`). @defaultValue 300 */
  maxFutureSeconds?: number;
}

export type ErpEventResult = { ok: true; messages: ChangeMessage[]; warnings: FieldIssue[] } | { ok: false; issues: FieldIssue[] };

const ENVELOPE = ['tenant', 'store_id', 'id', 'sku', 'product_id', 'category_id', 'occurred_at', 'timestamp', 'version', 'event', 'data'];

export function parseErpEvent(channel: string, payload: string, options: ErpEventOptions): ErpEventResult {
  const route = ERP_CHANNELS[channel];
  if (!route) return { ok: false, issues: [{ path: 'channel', message: `unknown event "${channel}"` }] };
  let event: Record<string, unknown>;
  try {
    const json: unknown = JSON.parse(payload);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) return { ok: false, issues: [{ path: '', message: `expected a JSON object, got ${describe(json)}` }] };
    event = json as Record<string, unknown>;
  } catch (error) {
    return { ok: false, issues: [{ path: '', message: `not valid JSON: ${(error as Error).message}` }] };
  }

  const tenant = event.tenant ?? options.tenant;
  if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) return { ok: false, issues: [{ path: 'tenant', message: tenant === undefined ? 'is required (or start the bridge with --tenant)' : `invalid tenant ${describe(tenant)}` }] };
  const stores = options.storesOf(tenant);
  if (!stores) return { ok: false, issues: [{ path: 'tenant', message: `tenant "${tenant}" is not configured` }] };

  const time = event.occurred_at ?? event.timestamp;
  let millis = options.fallbackMillis;
  if (time !== undefined) {
    const parsed = parseEventTime(time, { nowMs: options.nowMs ?? Date.now(), maxFutureSeconds: options.maxFutureSeconds ?? 300 });
    if (!parsed.ok) return { ok: false, issues: [{ path: 'occurred_at', message: parsed.message }] };
    millis = Number(parsed.micros / 1000n);
  }
  let version = BigInt(millis) * 1_000_000n + BigInt((options.subIndex ?? 0) % 1_000_000);
  if (event.version !== undefined) {
    const v = event.version;
    if ((typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'string' && /^\d{1,19}$/.test(v))) version = BigInt(v);
    else return { ok: false, issues: [{ path: 'version', message: `expected a non-negative integer, got ${describe(v)}` }] };
  }

  const id = event.id ?? event.sku ?? event.product_id ?? event.category_id;
  let data = (typeof event.data === 'object' && event.data !== null ? event.data : Object.fromEntries(Object.entries(event).filter(([k]) => !ENVELOPE.includes(k)))) as Record<string, unknown>;
  if (event.sku !== undefined && data.sku === undefined) data = { ...data, sku: event.sku };
  if (route.type === 'product_price' && data.currency === undefined && options.defaultCurrency) data = { ...data, currency: options.defaultCurrency };

  const item = parseChangeItem({ type: route.type, id, action: route.action, store_id: event.store_id, data }, { defaultStoreId: 0 });
  if (!item.ok) return item;
  return itemToMessages(item.item, { tenant, stores, sourceVersion: version, occurredAt: millis });
}
