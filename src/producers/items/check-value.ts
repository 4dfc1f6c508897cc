import type { ChangeType } from '../../core/entities.js';
import { CHANGE_SCHEMAS, invalidAvroPaths, validateChange } from '../../schemas/index.js';
import type { FieldIssue } from './fields.js';
import type { ValueResult } from './values.js';

/** Value fields the connector fills: an issue there is about the item's envelope, not its data. */
const ENVELOPE_FIELDS: Record<string, string> = { tenant: 'tenant', store_id: 'store_id', entity_id: 'id', source_version: 'source_version', occurred_at: 'timestamp' };

/**
 * Checks a built change value against the change schema of its type, so a value that would fail
 * encoding is refused at the edge with the field named, rather than failing the whole publish call.
 * The value passed on is the value given: buildChangeValue fills every field of the schema (a test
 * holds it to that), so there are no defaults left to fill.
 *
 * The check is the Avro type's own (avsc's compiled `isValid`, the edge constraints included): it
 * accepts exactly what the encoding accepts. The zod mirror of the schema accepts and refuses the
 * same values (test/unit/schemas) and says why in words: it runs only for a value Avro refuses, to
 * name the fields.
 */
export function checkChangeValue(type: ChangeType, value: Record<string, unknown>, pathPrefix: string): ValueResult {
  const avro = CHANGE_SCHEMAS[type].avro();
  if (avro.isValid(value)) return { ok: true, value, warnings: [] };
  const result = validateChange(type, value);
  const found = result.ok
    ? // zod and Avro disagree (they must not): the fields Avro refuses, without zod's words.
      invalidAvroPaths(avro, value).map((path) => ({ path: path === '(value)' ? '' : path, message: `${path}: does not match the ${type} schema` }))
    : result.issues;
  const issues: FieldIssue[] = found.map((issue) => {
    const message = issue.path && issue.message.startsWith(`${issue.path}: `) ? issue.message.slice(issue.path.length + 2) : issue.message;
    const head = issue.path.split('.')[0] ?? '';
    const path = ENVELOPE_FIELDS[head] ?? (pathPrefix ? (issue.path ? `${pathPrefix}.${issue.path}` : pathPrefix) : issue.path);
    return { path, message };
  });
  return { ok: false, issues };
}
