import type { Schema, Type } from 'avsc';
import { avroType } from './avro-types.js';

interface AvroField {
  name: string;
  type: Schema;
  default?: unknown;
  aliases?: string[];
}

function fieldsOf(schema: Schema): AvroField[] {
  const fields = (schema as { fields?: unknown }).fields;
  return Array.isArray(fields) ? (fields as AvroField[]) : [];
}

function resolves(reader: Type, writer: Type): boolean {
  try {
    reader.createResolver(writer);
    return true;
  } catch {
    return false;
  }
}

/** A field-level type of a record schema, built inside a throwaway record so named types resolve. */
function fieldType(schema: Schema, field: AvroField): Type | undefined {
  try {
    const record = avroType({ ...(schema as object), fields: [field] } as Schema) as unknown as { fields: Array<{ type: Type }> };
    return record.fields[0]?.type;
  } catch {
    return undefined;
  }
}

/**
 * Why `next` is not FULL compatible with `previous` (each can read the other's records), one
 * sentence per offending top-level field, e.g. `field "color" was added without a default`.
 * Empty when no field-level reason was found. Pure: used to explain a registry's refusal.
 */
export function explainIncompatibility(previous: Schema, next: Schema): string[] {
  const reasons: string[] = [];
  const before = new Map(fieldsOf(previous).map((f) => [f.name, f]));
  const after = new Map(fieldsOf(next).map((f) => [f.name, f]));
  for (const [name, field] of after) {
    const old = before.get(name) ?? [...before.values()].find((f) => field.aliases?.includes(f.name));
    if (!old) {
      if (!('default' in field)) reasons.push(`field "${name}" was added without a default`);
      continue;
    }
    const oldType = fieldType(previous, old);
    const newType = fieldType(next, field);
    if (oldType && newType && !(resolves(newType, oldType) && resolves(oldType, newType))) {
      reasons.push(`field "${name}" changed its type from ${JSON.stringify(old.type)} to ${JSON.stringify(field.type)}`);
    }
  }
  for (const [name, field] of before) {
    const kept = after.has(name) || [...after.values()].some((f) => f.aliases?.includes(name));
    if (!kept && !('default' in field)) reasons.push(`field "${name}" was removed but had no default`);
  }
  return reasons;
}
