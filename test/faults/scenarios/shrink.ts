import { expect } from 'vitest';
import { PipelineHarness } from '../../support/pipeline-harness.js';
import type { FaultRow } from '../support/summary.js';
import { readLanceDb } from '../support/verify.js';
import { productKey } from '../support/workload.js';

const WORDS = ['river', 'granite', 'canvas', 'ember', 'alpine', 'cedar', 'harbor', 'meadow', 'summit', 'thistle', 'willow', 'copper', 'lantern', 'marsh', 'quartz', 'saddle'];

/** A paragraph of about 200 tokens: one chunk of its own at the default chunk size (256 tokens). */
function paragraph(n: number, version: number): string {
  const words = Array.from({ length: 150 }, (_, i) => WORDS[(n * 7 + i * 3) % WORDS.length]);
  return `<p>Section ${n + 1} of revision ${version}: ${words.join(' ')}.</p>`;
}

function line(version: number, paragraphs: number): string {
  const id = 'P-40000';
  return JSON.stringify({
    type: 'product',
    tenant: 'faults',
    store_id: 1,
    id,
    action: 'save',
    source_version: version,
    data: { sku: id, name: `Expedition tent manual v${version}`, description: Array.from({ length: paragraphs }, (_, n) => paragraph(n, version)).join(''), status: 'enabled', visibility: 4, price: 480, currency: 'EUR', qty: 3, stock_status: 'in_stock' },
  });
}

/**
 * A document shrinking from about 40 chunks to about 12, its new version sent `resends` times: the
 * store must end with exactly the new version's chunks, each once, and none of the old ones.
 */
export async function shrinkingDocument(name: string, resends: number, record: (row: FaultRow) => void): Promise<void> {
  const harness = await PipelineHarness.create('lancedb', { RAGSYNC_PARTITIONS: '3' });
  const { lancedbPath, collection } = harness.config.store;
  const key = productKey('faults', 'P-40000', 1);
  try {
    await harness.start();
    await harness.publishLines([line(1, 40)]);
    await harness.settle(180_000);
    const before = (await readLanceDb(lancedbPath, collection)).points.get(key) ?? [];

    const started = Date.now();
    await harness.publishLines(Array.from({ length: resends }, () => line(2, 12)));
    await harness.settle(180_000);
    const after = (await readLanceDb(lancedbPath, collection)).points.get(key) ?? [];
    const indexes = after.map((p) => p.chunkIndex).sort((a, b) => a - b);
    const duplicates = after.length - new Set(after.map((p) => p.id)).size;
    const stale = after.filter((p) => p.title !== 'Expedition tent manual v2').length;
    record({ test: name, events: 1 + resends, faults: `40 → 12 chunks, v2 sent ${resends}×`, lost: after.length < 12 ? 12 - after.length : 0, stale, duplicates, recoverySeconds: (Date.now() - started) / 1000 });

    expect(before.length, 'chunks of the 40-paragraph version').toBe(40);
    expect(after.length, 'points after the shrink').toBe(12);
    expect(indexes).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(duplicates).toBe(0);
    expect(stale).toBe(0);
  } finally {
    await harness.close();
  }
}
