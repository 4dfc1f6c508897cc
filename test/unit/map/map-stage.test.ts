import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createMapStage, FILTER_REASON_HEADER } from '../../../src/consumers/map/map-stage.js';
import { PermanentError } from '../../../src/core/errors.js';
import type { DocumentRecord } from '../../../src/core/records.js';
import type { InputRecord, OutputRecord, RecordResult, StageContext } from '../../../src/core/stage.js';
import { changeRecord, cmsPage, defaultFilters, OCCURRED_AT, product, TENANT, VERSION } from './samples.js';

const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };
const NOW = Date.UTC(2026, 10, 22, 8, 0);

async function run(records: InputRecord[], filters: Record<string, unknown> = {}): Promise<RecordResult<DocumentRecord>[]> {
  return createMapStage(defaultFilters(filters), { now: () => NOW }).process(records, context);
}

async function single(record: InputRecord, filters: Record<string, unknown> = {}): Promise<OutputRecord<DocumentRecord>> {
  const [result] = await run([record], filters);
  if (!result?.ok) throw new Error(`expected success, got ${String(result?.error)}`);
  expect(result.outputs).toHaveLength(1);
  return result.outputs[0]!;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('the map stage', () => {
  it('is declared with group map, the five entity change topics in, documents out', () => {
    const stage = createMapStage(defaultFilters());
    expect(stage.name).toBe('map');
    expect(stage.group).toBe('map');
    expect(stage.inputs).toEqual(['changes.product', 'changes.category', 'changes.cms_page', 'changes.cms_block', 'changes.promotion']);
    expect(stage.output).toBe('documents');
    expect(stage.terminal).toBeUndefined();
  });

  describe('when a product change arrives', () => {
    it('writes a document under the same key with the version, time and header fields', async () => {
      const input = changeRecord('product', product());
      const output = await single(input);
      expect(output.topic).toBe('documents');
      expect(output.key).toBe(input.key);
      expect(output.sourceVersion).toBe(VERSION);
      expect(output.occurredAt).toBe(OCCURRED_AT);
      expect(output.value).toMatchObject({
        doc_key: input.key,
        tenant: TENANT,
        entity_type: 'product',
        entity_id: 'TR-200',
        store_id: 1,
        source_version: VERSION,
        occurred_at: OCCURRED_AT,
        doc_type: 'product',
        doc_subtype: null,
        title: 'Ridgeline Trail Shoe',
        url: '/ridgeline-trail-shoe.html',
      });
    });

    it('sets text_hash and payload_hash to the sha256 hex of text and payload_json', async () => {
      const { value } = await single(changeRecord('product', product()));
      expect(value!.text_hash).toBe(sha256(value!.text));
      expect(value!.payload_hash).toBe(sha256(value!.payload_json));
    });

    it('gives the same payload_hash whatever order the attributes were written in', async () => {
      const a = await single(changeRecord('product', product({ attributes: { material: 'Recycled mesh', color: 'Slate blue' } })));
      const b = await single(changeRecord('product', product({ attributes: { color: 'Slate blue', material: 'Recycled mesh' } })));
      expect(b.value!.payload_json).toBe(a.value!.payload_json);
      expect(b.value!.payload_hash).toBe(a.value!.payload_hash);
      expect(b.value!.text_hash).toBe(a.value!.text_hash);
    });

    it('keeps text_hash when only a live field changes, and changes payload_hash', async () => {
      const a = await single(changeRecord('product', product()));
      const b = await single(changeRecord('product', product({ price: 99.0, qty: 3, stock_status: 'out_of_stock' })));
      expect(b.value!.text_hash).toBe(a.value!.text_hash);
      expect(b.value!.payload_hash).not.toBe(a.value!.payload_hash);
    });
  });

  describe('when a tombstone arrives', () => {
    it('writes a tombstone with the same key, version and time', async () => {
      const input = changeRecord('cms_page', null, 'returns');
      const output = await single(input);
      expect(output).toEqual({ topic: 'documents', key: input.key, value: null, sourceVersion: VERSION, occurredAt: OCCURRED_AT });
    });
  });

  describe('when the entity is filtered out', () => {
    it('writes a tombstone for its key, so a document indexed before is removed, and names the filter', async () => {
      const input = changeRecord('product', product({ status: 'disabled' }));
      const output = await single(input);
      expect(output.value).toBeNull();
      expect(output.key).toBe(input.key);
      expect(output.sourceVersion).toBe(VERSION);
      expect(output.headers).toEqual({ [FILTER_REASON_HEADER]: 'product_disabled' });
    });
  });

  describe('when a value is malformed', () => {
    it('fails that record alone with a PermanentError naming the field', async () => {
      const { name: _name, ...withoutName } = product();
      const results = await run([changeRecord('cms_page', cmsPage()), changeRecord('product', withoutName), changeRecord('product', product())]);
      expect(results.map((r) => r.ok)).toEqual([true, false, true]);
      const failed = results[1] as { ok: false; error: unknown };
      expect(failed.error).toBeInstanceOf(PermanentError);
      expect((failed.error as PermanentError).code).toBe('validation_failed');
      expect((failed.error as Error).message).toContain('name');
    });

    it('titles a product whose name became blank by its SKU, so its old text leaves the index', async () => {
      const [result] = await run([changeRecord('product', product({ name: '   ', description: '' }))]);
      expect(result!.ok).toBe(true);
      const document = (result as { outputs: Array<{ value: { title: string; text: string } }> }).outputs[0]!.value;
      expect(document.title).toBe(product().sku);
      expect(document.text).toContain(`SKU: ${product().sku}`);
    });

    it('fails a product whose SKU is blank', async () => {
      const [result] = await run([changeRecord('product', product({ sku: ' ' }))]);
      expect(result!.ok).toBe(false);
      expect((result as { error: PermanentError }).error).toBeInstanceOf(PermanentError);
      expect((result as { error: PermanentError }).error.code).toBe('missing_field');
    });

    it('fails a record whose key is of another entity type than its topic', async () => {
      const record = { ...changeRecord('product', product()), topic: 'changes.category' };
      const [result] = await run([record]);
      expect((result as { error: PermanentError }).error.code).toBe('key_topic_mismatch');
    });

    it('fails a record whose value names another entity than its key', async () => {
      const record = changeRecord('product', product(), 'TR-999');
      const [result] = await run([record]);
      expect((result as { error: PermanentError }).error.code).toBe('key_value_mismatch');
    });

    it('fails a record whose key cannot be parsed', async () => {
      const record = { ...changeRecord('product', product()), key: 'not-a-key' };
      const [result] = await run([record]);
      expect((result as { error: PermanentError }).error.code).toBe('invalid_key');
    });
  });
});
