import type { ChangeType } from '../../core/entities.js';
import { validateChange } from '../../schemas/index.js';
import type { FieldIssue } from './fields.js';
import type { ValueResult } from './values.js';

/** Value fields the connector fills: an issue there is about the item's envelope, not its data. */
const ENVELOPE_FIELDS: Record<string, string> = { tenant: 'tenant', store_id: 'store_id', entity_id: 'id', source_version: 'source_version', occurred_at: 'timestamp' };

/**
 * Checks a built change value against the change schema of its type (src/schemas, the zod mirror
 * of the Avro schema), so a value that would fail encoding is refused at the edge with the field
 * named, rather than failing the whole publish call. Returns the value with defaults filled.
 */
export function checkChangeValue(type: ChangeType, value: Record<string, unknown>, pathPrefix: string): ValueResult {
  const result = validateChange(type, value);
  if (result.ok) return { ok: true, value: result.value as Record<string, unknown>, warnings: [] };
  const issues: FieldIssue[] = result.issues.map((issue) => {
    const message = issue.path && issue.message.startsWith(`${issue.path}: `) ? issue.message.slice(issue.path.length + 2) : issue.message;
    const head = issue.path.split('.')[0] ?? '';
    const path = ENVELOPE_FIELDS[head] ?? (pathPrefix ? (issue.path ? `${pathPrefix}.${issue.path}` : pathPrefix) : issue.path);
    return { path, message };
  });
  return { ok: false, issues };
}
