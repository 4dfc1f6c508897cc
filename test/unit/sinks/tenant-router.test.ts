import { describe, expect, it } from 'vitest';
import { formatKey } from '../../../src/core/keys.js';
import { APPLIED, failed, STALE, type Sink, type SinkRecord, type SinkResult } from '../../../src/core/sink.js';
import { CircuitOpenError } from '../../../src/core/signals.js';
import { routeByTenant } from '../../../src/sinks/tenant-router.js';

const record = (tenant: string, id: string): SinkRecord => ({
  topic: 'changes.product',
  key: formatKey({ tenant, entityType: 'product', entityId: id, storeId: 0 }),
  value: { id },
  sourceVersion: 1n,
  occurredAt: 0,
});

/** A sink that records what it was given and answers per record id. */
function recordingSink(target: string, answer: (r: SinkRecord) => SinkResult | 'throw' = () => APPLIED): Sink & { seen: string[][] } {
  const seen: string[][] = [];
  return {
    target,
    seen,
    connect: async () => undefined,
    close: async () => undefined,
    async write(records) {
      seen.push(records.map((r) => (r.value as { id: string }).id));
      const answers = records.map(answer);
      if (answers.includes('throw')) throw new CircuitOpenError(target, 1000);
      return answers as SinkResult[];
    },
  };
}

describe('routeByTenant', () => {
  it("gives each tenant's sink only that tenant's records, in order, and applies records of tenants without a target", async () => {
    const a = recordingSink('shop-a');
    const b = recordingSink('shop-b', (r) => ((r.value as { id: string }).id === 'b2' ? STALE : APPLIED));
    const router = routeByTenant('push-test', new Map([['a', [a]], ['b', [b]]]));
    const results = await router.write([record('a', 'a1'), record('b', 'b1'), record('c', 'c1'), record('a', 'a2'), record('b', 'b2')]);
    expect(a.seen).toEqual([['a1', 'a2']]);
    expect(b.seen).toEqual([['b1', 'b2']]);
    expect(results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied', 'applied', 'stale']);
  });

  it("turns one target's failed write into failed records of that tenant only", async () => {
    const a = recordingSink('shop-a', () => 'throw');
    const b = recordingSink('shop-b');
    const router = routeByTenant('push-test', new Map([['a', [a]], ['b', [b]]]));
    const results = await router.write([record('a', 'a1'), record('b', 'b1')]);
    expect(results[0]).toMatchObject({ status: 'failed', error: expect.any(CircuitOpenError) });
    expect(results[1]).toEqual(APPLIED);
  });

  it('applies a record once every sink of its tenant applied it; the first failure wins', async () => {
    const one = recordingSink('hook-1');
    const two = recordingSink('hook-2', (r) => ((r.value as { id: string }).id === 'x2' ? failed(new Error('refused')) : APPLIED));
    const router = routeByTenant('push-webhook', new Map([['a', [one, two]]]));
    const results = await router.write([record('a', 'x1'), record('a', 'x2')]);
    expect(results[0]).toEqual(APPLIED);
    expect(results[1]).toMatchObject({ status: 'failed' });
    expect(one.seen).toEqual([['x1', 'x2']]);
  });

  it('fails a record whose key cannot be parsed, naming the key', async () => {
    const router = routeByTenant('push-test', new Map([['a', [recordingSink('shop-a')]]]));
    const [result] = await router.write([{ ...record('a', 'a1'), key: 'not-a-key' }]);
    expect(result).toMatchObject({ status: 'failed', error: expect.objectContaining({ message: expect.stringContaining('not-a-key') }) });
  });
});
