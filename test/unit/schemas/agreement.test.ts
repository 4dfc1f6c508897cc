import { describe, expect, it } from 'vitest';
import { SCHEMA_NAMES, type SchemaName } from '../../../src/schemas/avsc-files.js';
import { CHANGE_SCHEMAS, ORDER_SCHEMA, PIPELINE_SCHEMAS, STATE_SCHEMAS, type ValueSchema } from '../../../src/schemas/catalogue.js';
import { invalidAvroPaths } from '../../../src/schemas/avro-types.js';
import { loadAvsc } from '../../../src/schemas/avsc-files.js';
import { SAMPLES } from './samples.js';

const BY_NAME: Record<SchemaName, ValueSchema> = Object.fromEntries(
  [...Object.values(CHANGE_SCHEMAS), ORDER_SCHEMA, ...Object.values(PIPELINE_SCHEMAS), ...Object.values(STATE_SCHEMAS)].map((s) => [s.name, s as ValueSchema]),
) as Record<SchemaName, ValueSchema>;

interface AvroField {
  name: string;
  default?: unknown;
}

/** Invalid variants every schema must reject the same way in zod and Avro. */
function invalidVariants(name: SchemaName, sample: Record<string, unknown>): Array<[string, Record<string, unknown>]> {
  const variants: Array<[string, Record<string, unknown>]> = [];
  const fields = (loadAvsc(name) as unknown as { fields: AvroField[] }).fields;
  for (const field of fields) {
    if (!('default' in field)) {
      const { [field.name]: _removed, ...rest } = sample;
      variants.push([`without the required field ${field.name}`, rest]);
    }
    variants.push([`with an object as ${field.name}`, { ...sample, [field.name]: { unexpected: true } }]);
    const current = sample[field.name];
    const wrong = current === null ? true : typeof current === 'string' ? 42 : 'forty-two';
    variants.push([`with ${JSON.stringify(wrong)} as ${field.name}`, { ...sample, [field.name]: wrong }]);
  }
  const has = (f: string) => fields.some((x) => x.name === f);
  if (has('tenant')) {
    for (const tenant of ['Upper', '-leading-dash', 'with space', 'a'.repeat(64), '']) {
      variants.push([`with the bad tenant "${tenant.slice(0, 12)}"`, { ...sample, tenant }]);
    }
  }
  if (has('store_id')) variants.push(['with a negative store_id', { ...sample, store_id: -1 }]);
  if (has('store_id')) variants.push(['with a fractional store_id', { ...sample, store_id: 1.5 }]);
  if (has('store_id')) variants.push(['with a store_id past 32 bits', { ...sample, store_id: 2 ** 31 }]);
  if (has('entity_id')) variants.push(['with an empty entity_id', { ...sample, entity_id: '' }]);
  if (has('source_version')) variants.push(['with a number as source_version', { ...sample, source_version: 5 }]);
  if (has('source_version')) variants.push(['with a source_version past 64 bits', { ...sample, source_version: 2n ** 63n }]);
  if (has('occurred_at')) variants.push(['with a bigint as occurred_at', { ...sample, occurred_at: 5n }]);
  if (has('occurred_at')) variants.push(['with a fractional occurred_at', { ...sample, occurred_at: 1.5 }]);
  const enums: Record<string, unknown[]> = {
    status: name === 'product' ? ['Enabled', 'deleted', 2] : [],
    stock_status: ['instock', 'IN_STOCK'],
    discount_type: ['percent', 'by_percent'],
    entity_type: ['order', 'products'],
    special_from_date: ['2026-1-1', '01/02/2026'],
    to_date: ['tomorrow'],
    visibility: [0, 5],
    level: [-1],
    product_count: [-3],
    dimension: [0],
  };
  for (const [field, values] of Object.entries(enums)) {
    if (!has(field)) continue;
    for (const value of values) variants.push([`with ${JSON.stringify(value)} as ${field}`, { ...sample, [field]: value }]);
  }
  if (has('chunks')) {
    const chunks = sample.chunks as Array<Record<string, unknown>>;
    if (chunks.length > 0) {
      variants.push(['with a chunk without hash', { ...sample, chunks: [{ ...chunks[0], hash: undefined }] }]);
      variants.push(['with a chunk with a negative index', { ...sample, chunks: [{ ...chunks[0], index: -1 }] }]);
      if (name === 'vector_set') {
        variants.push(['with a vector that is not a Buffer', { ...sample, chunks: [{ ...chunks[0], vector: [0.1, 0.2] }] }]);
      }
    }
  }
  if (has('attributes')) variants.push(['with a number as an attribute value', { ...sample, attributes: { weight: 3 } }]);
  if (has('categories')) variants.push(['with a number among the categories', { ...sample, categories: ['a', 1] }]);
  if (has('items')) variants.push(['with an item without sku', { ...sample, items: [{ qty: 1, price: 1, row_total: 1 }] }]);
  variants.push(['as null', null as unknown as Record<string, unknown>]);
  return variants;
}

describe.each(SCHEMA_NAMES)('the %s schema', (name) => {
  const schema = BY_NAME[name];
  const avro = schema.avro();
  const samples = SAMPLES[name];

  it.each([
    ['a full', samples.full],
    ['a minimal', samples.minimal],
  ])('accepts %s sample in zod and Avro alike', (_label, sample) => {
    const parsed = schema.zod.safeParse(sample);
    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(invalidAvroPaths(avro, sample)).toEqual([]);
    // What zod returns (defaults filled) encodes and decodes to itself.
    expect(avro.fromBuffer(avro.toBuffer(parsed.data))).toEqual(parsed.data);
  });

  it.each(invalidVariants(name, samples.full))('rejects a value %s in zod and Avro alike', (_label, variant) => {
    const zodOk = schema.zod.safeParse(variant).success;
    const avroOk = avro.isValid(variant);
    expect({ zod: zodOk, avro: avroOk }).toEqual({ zod: false, avro: false });
  });

  // RegistrySerde does not call isValid before encoding: it relies on the encoding refusing what
  // isValid refuses (and names the fields only then).
  it.each(invalidVariants(name, samples.full))('refuses to encode a value %s', (_label, variant) => {
    expect(() => avro.toBuffer(variant)).toThrow();
  });
});
