import type { ChangeMessage } from '../../core/changes.js';
import { TENANT_PATTERN } from '../../core/keys.js';
import { parseChangeItem } from '../items/change-item.js';
import { describe, type FieldIssue } from '../items/fields.js';
import { parseEventTime } from '../items/timestamp.js';
import { itemToMessages } from '../items/to-messages.js';

/**
 * One line of `ragsync publish` input (docs/connectors/publish.md):
 *
 *   {"type":"product","tenant":"acme","store_id":1,"id":"123","action":"save",
 *    "source_version":1767349800000000000,"occurred_at":"2026-01-02T10:30:00Z","data":{…}}
 *
 * `type` is an entity or an aspect (product_price, product_stock); `data` follows the same rules
 * as a Magento webhook item's data (the same code checks both). `source_version` (an integer, or
 * a string of digits for values beyond 2^53) defaults to occurred_at in ms × 1e6 + the line number
 * modulo 1e6 — the nanosecond scale every connector uses; `occurred_at` (ISO or epoch) defaults to
 * the time the run started, and may lie at most `maxFutureSeconds` after it.
 */
export interface LineDefaults {
  /** Used when a line has no `tenant`. */
  tenant?: string;
  /** Epoch milliseconds used when a line has no `occurred_at`; an `occurred_at` is checked against it. */
  now: number;
  /** How far after `now` an `occurred_at` may lie (config `ingress.maxFutureSeconds`). @defaultValue 300 */
  maxFutureSeconds?: number;
  /** Configured stores of a tenant, for the store-0 expansion. */
  storesOf: (tenant: string) => readonly number[];
}

export type LineResult = { ok: true; messages: ChangeMessage[]; warnings: FieldIssue[] } | { ok: false; issues: FieldIssue[] };

export function parsePublishLine(text: string, lineNumber: number, defaults: LineDefaults): LineResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, issues: [{ path: '', message: `not valid JSON: ${(error as Error).message}` }] };
  }
  const issues: FieldIssue[] = [];
  const line = (typeof json === 'object' && json !== null && !Array.isArray(json) ? json : {}) as Record<string, unknown>;

  const tenant = line.tenant ?? defaults.tenant;
  if (typeof tenant !== 'string') issues.push({ path: 'tenant', message: tenant === undefined ? 'is required (or pass --tenant)' : `expected a string, got ${describe(tenant)}` });
  else if (!TENANT_PATTERN.test(tenant)) issues.push({ path: 'tenant', message: `invalid tenant ${describe(tenant)}: expected ${TENANT_PATTERN.source} (lowercase letters, digits, _ and -, at most 63)` });

  let occurredAt = defaults.now;
  if (line.occurred_at !== undefined) {
    const parsed = parseEventTime(line.occurred_at, { nowMs: defaults.now, maxFutureSeconds: defaults.maxFutureSeconds ?? 300 });
    if (parsed.ok) occurredAt = Number(parsed.micros / 1000n);
    else issues.push({ path: 'occurred_at', message: parsed.message });
  }

  let sourceVersion = BigInt(occurredAt) * 1_000_000n + BigInt(lineNumber % 1_000_000);
  if (line.source_version !== undefined) {
    const raw = line.source_version;
    if ((typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0) || (typeof raw === 'string' && /^\d{1,19}$/.test(raw) && BigInt(raw) < 2n ** 63n)) {
      sourceVersion = BigInt(raw);
    } else {
      issues.push({ path: 'source_version', message: `expected a non-negative integer below 2^63 (digits in a string beyond 2^53), got ${describe(raw)}` });
    }
  }

  const item = parseChangeItem(json, { defaultStoreId: 0 });
  if (!item.ok) issues.push(...item.issues);
  if (issues.length > 0 || !item.ok) return { ok: false, issues };

  return itemToMessages(item.item, { tenant: tenant as string, stores: defaults.storesOf(tenant as string), sourceVersion, occurredAt });
}
