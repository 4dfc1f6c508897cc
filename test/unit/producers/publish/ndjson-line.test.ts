import { describe, expect, it } from 'vitest';
import { parseKey } from '../../../../src/core/keys.js';
import { parsePublishLine } from '../../../../src/producers/publish/ndjson-line.js';
import { runPublish } from '../../../../src/producers/publish/run-publish.js';
import { formatPublishSummary } from '../../../../src/producers/publish/report.js';

const defaults = { now: 1_767_349_800_000, storesOf: () => [0] };

describe('parsePublishLine', () => {
  it('builds a product change with the default version on the shared nanosecond scale', () => {
    const result = parsePublishLine(JSON.stringify({ type: 'product', tenant: 'acme', store_id: 1, id: 'SKU/1', action: 'save', data: { name: 'Lamp' } }), 7, defaults);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const [message] = result.messages;
    expect(parseKey(message!.key)).toMatchObject({ entityId: 'SKU/1', storeId: 1 });
    expect(message!.sourceVersion).toBe(1_767_349_800_000n * 1_000_000n + 7n);
    expect(message!.value).toMatchObject({ sku: 'SKU/1', name: 'Lamp' });
  });

  it('takes an explicit version given as a string of digits beyond 2^53', () => {
    const result = parsePublishLine(JSON.stringify({ type: 'product_price', tenant: 'acme', id: 'S', action: 'save', source_version: '9007199254740993', data: { price: 5, currency: 'EUR' } }), 1, defaults);
    expect(result.ok && result.messages[0]!.sourceVersion).toBe(9007199254740993n);
  });

  it('reports the same field errors as the webhook', () => {
    const result = parsePublishLine(JSON.stringify({ type: 'product', tenant: 'Bad Tenant', id: '1', action: 'save', data: { sku: 'x' } }), 1, defaults);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).toEqual(['tenant']);
  });

  it('reports a price aspect without its currency', () => {
    const result = parsePublishLine(JSON.stringify({ type: 'product_price', tenant: 'acme', id: 'S', action: 'save', data: { price: 5 } }), 1, defaults);
    expect(!result.ok && result.issues).toEqual([{ path: 'data.currency', message: 'is required' }]);
  });
});

describe('runPublish', () => {
  async function* lines(...texts: string[]) {
    yield* texts;
  }

  it('publishes valid lines in acknowledged batches and lists rejected ones by line number', async () => {
    const calls: number[] = [];
    const sink = { publish: async (m: unknown[]) => void calls.push(m.length), close: async () => {} };
    const ok = (id: string) => JSON.stringify({ type: 'cms_block', tenant: 'acme', id, action: 'save', data: { title: 'T', content: 'C' } });
    const summary = await runPublish(lines(ok('a'), '', '{broken', ok('b'), ok('c')), { ...defaults, sink, batchSize: 2 });
    expect(calls).toEqual([2, 1]);
    expect(summary).toMatchObject({ lines: 4, published: 3, rejected: 1, rejections: [{ line: 3 }] });
    expect(formatPublishSummary(summary)).toContain('line 3: not valid JSON');
  });

  it('publishes nothing with dryRun', async () => {
    const summary = await runPublish(lines(JSON.stringify({ type: 'category', tenant: 'acme', id: '5', action: 'delete' })), { ...defaults, sink: null, dryRun: true });
    expect(summary).toMatchObject({ published: 1, dryRun: true });
  });
});
