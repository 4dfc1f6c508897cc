import { describe, expect, it } from 'vitest';
import { avroType, createDecoder } from '../../../src/schemas/avro-types.js';
import { SCHEMA_NAMES, loadAvsc, releasedVersions } from '../../../src/schemas/avsc-files.js';
import { CHANGE_SCHEMAS, ORDER_SCHEMA, PIPELINE_SCHEMAS, STATE_SCHEMAS } from '../../../src/schemas/catalogue.js';
import { SAMPLES } from './samples.js';

const schemas = [...Object.values(CHANGE_SCHEMAS), ORDER_SCHEMA, ...Object.values(PIPELINE_SCHEMAS), ...Object.values(STATE_SCHEMAS)];

const cases = SCHEMA_NAMES.flatMap((name) => releasedVersions(name).map((version) => [name, version] as const));

describe('every released .avsc version', () => {
  it('has a schema in the catalogue and a sample for each version', () => {
    expect(schemas.map((s) => s.name).sort()).toEqual([...SCHEMA_NAMES].sort());
    for (const [name, version] of cases) expect(SAMPLES[name].byVersion[version], `${name} v${version}`).toBeDefined();
  });

  it.each(cases)('decodes a %s record written with v%i into the reader shape', (name, version) => {
    const writer = avroType(loadAvsc(name, version));
    const reader = schemas.find((s) => s.name === name)!;
    const written = writer.toBuffer(SAMPLES[name].byVersion[version]);
    const decoded = createDecoder(reader.avro(), writer)(written);
    // The reader shape is what zod produces for the same value: one shape for the code.
    expect(decoded).toEqual(reader.zod.parse(SAMPLES[name].byVersion[version]));
  });
});

describe('when a newer reader schema adds a field with a default', () => {
  it('fills the default for records written with the older schema', () => {
    const v1 = loadAvsc('cms_block', 1) as unknown as { fields: object[] };
    const v2 = { ...v1, fields: [...v1.fields, { name: 'sort_order', type: ['null', 'int'], default: null }] };
    const decoded = createDecoder(avroType(v2 as never), avroType(v1 as never))(avroType(v1 as never).toBuffer(SAMPLES.cms_block.full));
    expect(decoded).toMatchObject({ identifier: 'footer-hours', sort_order: null });
  });
});

describe('a long without a logical type', () => {
  it('decodes as a bigint and keeps all 64 bits', () => {
    const type = avroType(loadAvsc('document'));
    const value = { ...SAMPLES.document.full, source_version: 2n ** 62n + 7n };
    expect((type.fromBuffer(type.toBuffer(value)) as { source_version: bigint }).source_version).toBe(2n ** 62n + 7n);
  });
});
