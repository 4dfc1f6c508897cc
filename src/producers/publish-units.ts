import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { recordRefusalsOf } from '../kafka/producer.js';
import type { FieldIssue } from './items/fields.js';

/** The messages of one input unit: a webhook item, a `publish` line, a catalog row, an ERP event. */
export interface PublishUnit {
  messages: ChangeMessage[];
}

/** A unit left out because the sink refused one of its records before sending anything. */
export interface UnitRefusal {
  unit: number;
  issues: FieldIssue[];
}

/**
 * Publishes the messages of every unit in one call acknowledged as a whole. When the sink refuses
 * records before sending anything (too large for the topic, invalid text, not matching the schema:
 * a RecordsRefusedError), the units they belong to are left out and the rest is published; a unit
 * is never published in part (a store-0 item is all its stores or none). Returns the units left
 * out, with the reasons (their paths prefixed with `dataPath` where a field is named). With
 * `leaveOut: false` nothing is published once a unit is refused (all or nothing). Any other
 * failure is thrown as it is: then the call may have been stored in part, and only a resend of all
 * of it is safe.
 */
export async function publishUnits(
  sink: ChangeSink,
  units: readonly PublishUnit[],
  options: { timeoutMs?: number; dataPath?: string; leaveOut?: boolean } = {},
): Promise<UnitRefusal[]> {
  const refused = new Map<number, FieldIssue[]>();
  for (;;) {
    const messages: ChangeMessage[] = [];
    const owner: number[] = [];
    units.forEach((unit, index) => {
      if (refused.has(index)) return;
      for (const message of unit.messages) {
        messages.push(message);
        owner.push(index);
      }
    });
    if (messages.length === 0) break;
    try {
      await sink.publish(messages, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
      break;
    } catch (error) {
      const refusals = recordRefusalsOf(error);
      if (refusals === undefined || refusals.length === 0) throw error;
      for (const refusal of refusals) {
        const unit = owner[refusal.index]!;
        const path = refusal.path === '' ? '' : options.dataPath ? `${options.dataPath}.${refusal.path}` : refusal.path;
        const issues = refused.get(unit) ?? [];
        issues.push({ path, message: refusal.reason });
        refused.set(unit, issues);
      }
      if (options.leaveOut === false) break;
    }
  }
  return [...refused.entries()].sort(([a], [b]) => a - b).map(([unit, issues]) => ({ unit, issues }));
}
