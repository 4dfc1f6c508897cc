import type { ChangeMessage, ChangeSink } from '../core/changes.js';
import { KafkaChangeSink, recordRefusalsOf, type EncodedChanges } from '../kafka/producer.js';
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
    const { messages, owner } = messagesOf(units, refused);
    if (messages.length === 0) break;
    try {
      await sink.publish(messages, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
      break;
    } catch (error) {
      if (!noteRefusals(error, owner, refused, options.dataPath)) throw error;
      if (options.leaveOut === false) break;
    }
  }
  return listRefusals(refused);
}

/** Units a sink has checked and encoded ahead of sending (encodePublishUnits): their records and the units it left out. */
export interface EncodedUnits {
  /** How many units were given (refused ones included). */
  count: number;
  encoded: EncodedChanges | undefined;
  /** The units left out, numbered from 0 within these units. */
  refusals: UnitRefusal[];
}

/**
 * The first of `publishUnits`' two steps, for a sink that can check and encode records ahead of
 * sending them (a KafkaChangeSink; undefined for any other, which publishUnits serves): checks and
 * encodes every record and leaves the refused units out, sending nothing. `sendEncodedUnits` then
 * sends one or more such parts as one call. A caller can so encode a call's units while it reads
 * them, and prepare one call while the previous one is sent; no unit is ever sent later on its own.
 */
export function encodePublishUnits(sink: ChangeSink, units: readonly PublishUnit[], options: { dataPath?: string; leaveOut?: boolean } = {}): Promise<EncodedUnits> | undefined {
  return sink instanceof KafkaChangeSink ? encodeUnits(sink, units, options) : undefined;
}

async function encodeUnits(sink: KafkaChangeSink, units: readonly PublishUnit[], options: { dataPath?: string; leaveOut?: boolean }): Promise<EncodedUnits> {
  const refused = new Map<number, FieldIssue[]>();
  let encoded: EncodedChanges | undefined;
  for (;;) {
    const { messages, owner } = messagesOf(units, refused);
    if (messages.length === 0) break;
    try {
      encoded = await sink.encode(messages);
      break;
    } catch (error) {
      if (!noteRefusals(error, owner, refused, options.dataPath)) throw error;
      if (options.leaveOut === false) break;
    }
  }
  return { count: units.length, encoded, refusals: listRefusals(refused) };
}

/**
 * The second step: sends the records of `parts` (from encodePublishUnits, in their order) as one
 * call acknowledged as a whole, and resolves with the units left out, numbered across the parts
 * as if they had been one list.
 */
export async function sendEncodedUnits(sink: ChangeSink, parts: readonly EncodedUnits[], options: { timeoutMs?: number } = {}): Promise<UnitRefusal[]> {
  const encoded = parts.flatMap((part) => (part.encoded === undefined ? [] : [part.encoded]));
  if (encoded.length > 0) await (sink as KafkaChangeSink).sendEncoded(encoded, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
  const refusals: UnitRefusal[] = [];
  let offset = 0;
  for (const part of parts) {
    for (const refusal of part.refusals) refusals.push({ unit: offset + refusal.unit, issues: refusal.issues });
    offset += part.count;
  }
  return refusals;
}

/** The messages of every unit not refused yet, and the unit each belongs to. */
function messagesOf(units: readonly PublishUnit[], refused: ReadonlyMap<number, FieldIssue[]>): { messages: ChangeMessage[]; owner: number[] } {
  const messages: ChangeMessage[] = [];
  const owner: number[] = [];
  units.forEach((unit, index) => {
    if (refused.has(index)) return;
    for (const message of unit.messages) {
      messages.push(message);
      owner.push(index);
    }
  });
  return { messages, owner };
}

/** Adds the records a sink refused to their units' issues; false when `error` is no such refusal. */
function noteRefusals(error: unknown, owner: readonly number[], refused: Map<number, FieldIssue[]>, dataPath: string | undefined): boolean {
  const refusals = recordRefusalsOf(error);
  if (refusals === undefined || refusals.length === 0) return false;
  for (const refusal of refusals) {
    const unit = owner[refusal.index]!;
    const path = refusal.path === '' ? '' : dataPath ? `${dataPath}.${refusal.path}` : refusal.path;
    const issues = refused.get(unit) ?? [];
    issues.push({ path, message: refusal.reason });
    refused.set(unit, issues);
  }
  return true;
}

function listRefusals(refused: ReadonlyMap<number, FieldIssue[]>): UnitRefusal[] {
  return [...refused.entries()].sort(([a], [b]) => a - b).map(([unit, issues]) => ({ unit, issues }));
}
