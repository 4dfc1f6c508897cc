import { afterAll, describe, expect, it } from 'vitest';
import type { Schema } from 'avsc';
import { loadConfig } from '../../src/config/index.js';
import { PermanentError, RetryableError, SystemError } from '../../src/core/errors.js';
import { RegistryClient } from '../../src/kafka/registry.js';
import { RegistrySerde } from '../../src/kafka/serde.js';
import { avroType } from '../../src/schemas/avro-types.js';
import { SCHEMA_NAMES, loadAvsc, releasedVersions } from '../../src/schemas/avsc-files.js';
import { TOPIC_SCHEMAS } from '../../src/schemas/catalogue.js';
import { SAMPLES } from '../unit/schemas/samples.js';
import { uniqueName } from '../support/unique.js';

const config = loadConfig();
const registry = new RegistryClient(config.registry);
const subjects: string[] = [];

function serdeWithPrefix(): { serde: RegistrySerde; prefix: string } {
  const prefix = `${uniqueName('serde')}.`;
  return { serde: new RegistrySerde(registry, { prefix }), prefix };
}

const logicalTopicOf = (name: string) => Object.entries(TOPIC_SCHEMAS).find(([, s]) => s.name === name)![0];

afterAll(async () => {
  for (const subject of subjects) await registry.deleteSubject(subject).catch(() => undefined);
});

describe('the registry serde', () => {
  it.each(SCHEMA_NAMES)('encodes a %s value through the real registry and decodes it unchanged', async (name) => {
    const { serde, prefix } = serdeWithPrefix();
    const topic = `${prefix}${logicalTopicOf(name)}`;
    subjects.push(RegistrySerde.subject(topic));
    const value = SAMPLES[name].full;
    const bytes = await serde.encode(topic, value);
    expect(bytes.readUInt8(0)).toBe(0);
    // A second serde has no cache: it looks the writer schema up by id.
    const decoded = await new RegistrySerde(new RegistryClient(config.registry), { prefix }).decode(topic, bytes);
    expect(decoded).toEqual(value);
  });

  it('decodes a record written with every released .avsc version into the reader shape', async () => {
    for (const name of SCHEMA_NAMES) {
      const { serde, prefix } = serdeWithPrefix();
      const topic = `${prefix}${logicalTopicOf(name)}`;
      const subject = RegistrySerde.subject(topic);
      subjects.push(subject);
      for (const version of releasedVersions(name)) {
        const schema = loadAvsc(name, version);
        const id = await registry.register(subject, schema);
        const header = Buffer.alloc(5);
        header.writeInt32BE(id, 1);
        const written = Buffer.concat([header, avroType(schema).toBuffer(SAMPLES[name].byVersion[version])]);
        const expected = TOPIC_SCHEMAS[logicalTopicOf(name)]!.zod.parse(SAMPLES[name].byVersion[version]);
        expect(await serde.decode(topic, written), `${name} v${version}`).toEqual(expected);
      }
    }
  });

  it('registers a new subject from 20 clients at once: each gets the same id, the subject FULL_TRANSITIVE', async () => {
    // Separate clients, as separate processes would be (replicas, `run all` next to `webhook serve`):
    // their PUT /config calls for the new subject race in the registry.
    const subject = `${uniqueName('race')}-value`;
    subjects.push(subject);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => new RegistryClient(config.registry).register(subject, loadAvsc('cms_block'))));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
    expect(failures).toEqual([]);
    expect(new Set(results.map((r) => (r as PromiseFulfilledResult<number>).value)).size).toBe(1);
    const response = await fetch(`${config.registry.url}/config/${encodeURIComponent(subject)}`);
    expect(((await response.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('FULL_TRANSITIVE');
  });

  it('sets FULL_TRANSITIVE on the subject', async () => {
    const { serde, prefix } = serdeWithPrefix();
    await serde.registerAll(['changes.cms_block']);
    const subject = `${prefix}changes.cms_block-value`;
    subjects.push(subject);
    const response = await fetch(`${config.registry.url}/config/${encodeURIComponent(subject)}`);
    expect(((await response.json()) as { compatibilityLevel: string }).compatibilityLevel).toBe('FULL_TRANSITIVE');
  });

  describe('when a new schema version adds a field without a default', () => {
    it('is refused with an error naming the subject and the field', async () => {
      const subject = `${uniqueName('compat')}-value`;
      subjects.push(subject);
      const v1 = loadAvsc('cms_block') as unknown as { fields: object[] };
      await registry.register(subject, v1 as unknown as Schema);
      const v2 = { ...v1, fields: [...v1.fields, { name: 'sort_order', type: 'int' }] } as unknown as Schema;
      const error = await registry.register(subject, v2).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SystemError);
      expect((error as SystemError).code).toBe('schema_incompatible');
      expect((error as Error).message).toContain(subject);
      expect((error as Error).message).toContain('"sort_order"');
    });

    it('accepts the same field when it has a default', async () => {
      const subject = `${uniqueName('compat')}-value`;
      subjects.push(subject);
      const v1 = loadAvsc('cms_block') as unknown as { fields: object[] };
      const first = await registry.register(subject, v1 as unknown as Schema);
      const v2 = { ...v1, fields: [...v1.fields, { name: 'sort_order', type: ['null', 'int'], default: null }] } as unknown as Schema;
      const second = await registry.register(subject, v2);
      expect(second).not.toBe(first);
      expect(await registry.register(subject, v1 as unknown as Schema)).toBe(first);
    });
  });

  describe('when a record was written with a newer schema than the code knows', () => {
    it('decodes it into the shape the code was built with', async () => {
      const { serde, prefix } = serdeWithPrefix();
      const topic = `${prefix}changes.cms_block`;
      const subject = RegistrySerde.subject(topic);
      subjects.push(subject);
      const v1 = loadAvsc('cms_block') as unknown as { fields: object[] };
      await registry.register(subject, v1 as unknown as Schema);
      const newer = { ...v1, fields: [...v1.fields, { name: 'sort_order', type: ['null', 'int'], default: null }] } as unknown as Schema;
      const id = await registry.register(subject, newer);
      const header = Buffer.alloc(5);
      header.writeInt32BE(id, 1);
      const written = Buffer.concat([header, avroType(newer).toBuffer({ ...SAMPLES.cms_block.full, sort_order: 4 })]);
      const decoded = await serde.decode(topic, written);
      expect(decoded).toEqual(SAMPLES.cms_block.full);
      expect(decoded).not.toHaveProperty('sort_order');
    });
  });

  describe('when the registry cannot be reached', () => {
    it('fails registration with a retryable error', async () => {
      const unreachable = new RegistryClient({ url: 'http://127.0.0.1:1/apis/ccompat/v7' });
      const error = await unreachable.register(`${uniqueName('down')}-value`, loadAvsc('cms_block')).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RetryableError);
      expect((error as RetryableError).code).toBe('registry_unavailable');
    });
  });

  describe('when a value does not match the schema', () => {
    it('fails before registering anything, naming the fields', async () => {
      const { serde, prefix } = serdeWithPrefix();
      const error = await serde.encode(`${prefix}changes.product`, { ...SAMPLES.product.full, tenant: 'No Spaces', price: 'cheap' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect((error as Error).message).toMatch(/tenant.*price|price.*tenant/);
      expect(await registry.latestSchema(`${prefix}changes.product-value`)).toBeUndefined();
    });
  });

  describe('when the bytes are not in the wire format', () => {
    it('refuses them as a permanent error', async () => {
      const { serde, prefix } = serdeWithPrefix();
      await expect(serde.decode(`${prefix}documents`, Buffer.from('{"json":true}'))).rejects.toBeInstanceOf(PermanentError);
    });
  });
});
