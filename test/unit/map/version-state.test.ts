import { describe, expect, it, vi } from 'vitest';
import { createMapStage, type MapOutput } from '../../../src/consumers/map/map-stage.js';
import { MAP_STATE_TOPIC, MemoryStateLog, VersionState } from '../../../src/consumers/map/version-state.js';
import { SystemError } from '../../../src/core/errors.js';
import type { InputRecord, OutputRecord, RecordResult, StageContext } from '../../../src/core/stage.js';
import type { MapStateRecord } from '../../../src/schemas/zod/map-state.js';
import { changeRecord, defaultFilters, product } from './samples.js';

/**
 * The map stage with its version state (docs/design.md §2): regressions are dropped and the change
 * topic repaired. `MemoryStateLog` plays map.state; `deliver` plays the runner, which produces the
 * stage's map.state outputs before it hands over the next slice.
 */
const context: StageContext = { heartbeat: async () => undefined, isStale: () => false };
const NOW = Date.UTC(2026, 10, 22, 8, 0);
const V1 = 1_767_225_600_000_001n;
const V2 = 1_767_225_600_000_002n;
const V3 = 1_767_225_600_000_003n;

function save(version: bigint, offset: number, name = `Shoe ${version}`, partition = 0): InputRecord {
  const record = changeRecord('product', product({ name, source_version: version }));
  return { ...record, partition, offset: String(offset), sourceVersion: version, raw: Buffer.from(`wire:${name}:${version}`) };
}

function remove(version: bigint, offset: number, partition = 0): InputRecord {
  const record = changeRecord('product', null, 'TR-200');
  return { ...record, partition, offset: String(offset), sourceVersion: version, raw: null, headers: { 'ragsync-source-version': String(version) } };
}

function setup(options: { maxCachedBytes?: number; log?: MemoryStateLog; maxStateValueBytes?: number } = {}) {
  const log = options.log ?? new MemoryStateLog();
  const state = new VersionState(log, options.maxCachedBytes === undefined ? {} : { maxCachedBytes: options.maxCachedBytes });
  const warn = vi.fn();
  const stage = createMapStage(defaultFilters(), { now: () => NOW, state, logger: { warn } as never, ...(options.maxStateValueBytes === undefined ? {} : { maxStateValueBytes: options.maxStateValueBytes }) });
  async function deliver(records: InputRecord[]): Promise<RecordResult<MapOutput>[]> {
    const results = await stage.process(records, context);
    results.forEach((result, i) => {
      if (!result.ok) return;
      for (const o of result.outputs) if (o.topic === MAP_STATE_TOPIC) log.append(records[i]!.partition, o.key, o.value as MapStateRecord);
    });
    return results;
  }
  return { log, state, stage, deliver, warn };
}

function outputs(result: RecordResult<MapOutput> | undefined): OutputRecord<MapOutput>[] {
  if (!result?.ok) throw new Error(`expected success, got ${String((result as { error?: unknown })?.error)}`);
  return result.outputs;
}

const topics = (result: RecordResult<MapOutput> | undefined) => outputs(result).map((o) => o.topic);

describe('the map stage with a version state', () => {
  it('applies a record with its document and a map.state record holding its version, offset, bytes and headers', async () => {
    const { deliver } = setup();
    const input = save(V2, 10);
    const [result] = await deliver([input]);
    expect(result).toMatchObject({ ok: true });
    expect((result as { stale?: boolean }).stale).toBeUndefined();
    const [document, state] = outputs(result);
    expect(document).toMatchObject({ topic: 'documents', key: input.key, sourceVersion: V2 });
    expect(state).toEqual({
      topic: MAP_STATE_TOPIC,
      key: input.key,
      sourceVersion: V2,
      occurredAt: input.occurredAt,
      value: { topic: 'changes.product', source_version: V2, occurred_at: input.occurredAt, deleted: false, change_offset: 10n, value: input.raw, headers: input.headers },
    });
  });

  it('drops a save older than the applied one and republishes the applied record, byte for byte, to the change topic', async () => {
    const { deliver } = setup();
    const newer = save(V2, 10, 'Newer');
    const [applied, late] = await deliver([newer, save(V1, 11, 'Older')]);
    expect(topics(applied)).toEqual(['documents', MAP_STATE_TOPIC]);
    expect(late).toEqual({
      ok: true,
      stale: true,
      outputs: [{ topic: 'changes.product', key: newer.key, value: null, rawValue: newer.raw, sourceVersion: V2, occurredAt: newer.occurredAt, headers: newer.headers }],
    });
  });

  it('drops a late save in a later slice too, and repairs from what it applied before', async () => {
    const { deliver } = setup();
    const newer = save(V2, 10, 'Newer');
    await deliver([newer]);
    const [late] = await deliver([save(V1, 11, 'Older')]);
    expect(late).toMatchObject({ ok: true, stale: true });
    expect(outputs(late)).toEqual([expect.objectContaining({ topic: 'changes.product', rawValue: newer.raw, sourceVersion: V2 })]);
  });

  it('applies the repair record it reads back (an equal version) and repairs nothing more: no loop', async () => {
    const { deliver } = setup();
    const newer = save(V2, 10, 'Newer');
    const [, late] = await deliver([newer, save(V1, 11, 'Older')]);
    const repair = outputs(late)[0]!;
    const readBack: InputRecord = { ...newer, offset: '12', raw: repair.rawValue as Buffer, headers: repair.headers ?? {} };
    const [result] = await deliver([readBack]);
    expect((result as { stale?: boolean }).stale).toBeUndefined();
    expect(topics(result)).toEqual(['documents', MAP_STATE_TOPIC]);
    expect((outputs(result)[1]!.value as MapStateRecord).change_offset).toBe(12n);
    // A late record that sits before the repair in the log needs no second repair.
    const [between] = await deliver([save(V1, 11, 'Older')]);
    expect(between).toEqual({ ok: true, stale: true, outputs: [] });
  });

  it('keeps a deleted entity deleted: a save older than the delete is dropped and the tombstone republished', async () => {
    const { deliver } = setup();
    const deleted = remove(V3, 10);
    const [tombstone, late] = await deliver([deleted, save(V2, 11, 'Resurrected')]);
    expect(outputs(tombstone)[0]).toMatchObject({ topic: 'documents', value: null, sourceVersion: V3 });
    expect((outputs(tombstone)[1]!.value as MapStateRecord)).toMatchObject({ deleted: true, value: null, source_version: V3 });
    expect(late).toEqual({
      ok: true,
      stale: true,
      outputs: [{ topic: 'changes.product', key: deleted.key, value: null, rawValue: null, sourceVersion: V3, occurredAt: deleted.occurredAt, headers: deleted.headers }],
    });
  });

  it('drops a tombstone older than the applied save and republishes the save', async () => {
    const { deliver } = setup();
    const newer = save(V3, 10, 'Kept');
    const [, late] = await deliver([newer, remove(V2, 11)]);
    expect(late).toMatchObject({ ok: true, stale: true });
    expect(outputs(late)).toEqual([expect.objectContaining({ topic: 'changes.product', rawValue: newer.raw, sourceVersion: V3 })]);
  });

  it('applies an equal version again (idempotence), stale for neither', async () => {
    const { deliver } = setup();
    const results = await deliver([save(V2, 10, 'Same'), save(V2, 11, 'Same')]);
    expect(results.map((r) => (r as { stale?: boolean }).stale)).toEqual([undefined, undefined]);
    expect(results.map(topics)).toEqual([
      ['documents', MAP_STATE_TOPIC],
      ['documents', MAP_STATE_TOPIC],
    ]);
  });

  it('writes the state record again when the runner hands a slice over again after a failed send', async () => {
    const { stage } = setup();
    const slice = [save(V2, 10, 'Newer'), save(V1, 11, 'Older')];
    // The first outputs never reached Kafka (nothing is appended to map.state): the retry must
    // produce the state record again, or map.state would never learn V2.
    await stage.process(slice, context);
    const again = await stage.process(slice, context);
    expect(again.map(topics)).toEqual([['documents', MAP_STATE_TOPIC], ['changes.product']]);
  });

  it('applies a newer version after an older one', async () => {
    const { deliver } = setup();
    const results = await deliver([save(V1, 10), save(V2, 11), save(V3, 12)]);
    expect(results.map((r) => (r as { stale?: boolean }).stale)).toEqual([undefined, undefined, undefined]);
  });

  it('drops without a repair an older record that sits before the applied one in the log (compaction removes it anyway)', async () => {
    const { deliver } = setup();
    await deliver([save(V2, 20)]);
    const [old] = await deliver([save(V1, 5)]);
    expect(old).toEqual({ ok: true, stale: true, outputs: [] });
  });

  it('repairs a key once per slice however many late records it has', async () => {
    const { deliver } = setup();
    const results = await deliver([save(V3, 10), save(V1, 11), save(V2, 12)]);
    expect(results.map((r) => outputs(r).filter((o) => o.topic === 'changes.product').length)).toEqual([0, 1, 0]);
  });

  it('keeps keys apart: another key is unaffected by a newer version of this one', async () => {
    const { deliver } = setup();
    const other = changeRecord('product', product({ entity_id: 'TR-300', sku: 'TR-300', source_version: V1 }));
    const [, result] = await deliver([save(V3, 10), { ...other, offset: '11', sourceVersion: V1, raw: Buffer.from('other') }]);
    expect((result as { stale?: boolean }).stale).toBeUndefined();
  });

  it('fails loudly (a system error) when the runner does not pass the wire bytes', async () => {
    const { deliver } = setup();
    const { raw: _raw, ...withoutRaw } = save(V2, 10);
    const [result] = await deliver([withoutRaw]);
    expect(result!.ok).toBe(false);
    expect((result as { error: unknown }).error).toBeInstanceOf(SystemError);
  });

  it('sends a poison record to the DLQ without touching the state', async () => {
    const { deliver, state } = setup();
    const { name: _name, ...withoutName } = product({ source_version: V3 });
    const poison = { ...changeRecord('product', withoutName), offset: '10', sourceVersion: V3, raw: Buffer.from('poison') };
    const [failed, next] = await deliver([poison, save(V2, 11)]);
    expect(failed!.ok).toBe(false);
    expect((next as { stale?: boolean }).stale).toBeUndefined();
    expect(state.get('changes.product', 0, poison.key)?.version).toBe(V2);
  });

  it('keeps a value too large for map.state out of it, and then drops a regression without a repair', async () => {
    const { deliver, warn } = setup({ maxStateValueBytes: 8 });
    const [applied, late] = await deliver([save(V2, 10, 'A long name'), save(V1, 11)]);
    expect((outputs(applied)[1]!.value as MapStateRecord)).toMatchObject({ deleted: false, value: null, source_version: V2 });
    expect(late).toEqual({ ok: true, stale: true, outputs: [] });
    expect(warn).toHaveBeenCalledTimes(1);
  });

  describe('after a restart or a rebalance', () => {
    it('restores the versions of its partitions from map.state and still drops and repairs a regression', async () => {
      const first = setup();
      const newer = save(V2, 10, 'Newer');
      await first.deliver([newer]);
      await first.stage.close!();

      // No value cache at all: the repair must read the bytes back from map.state.
      const second = setup({ log: first.log, maxCachedBytes: 0 });
      await second.stage.onAssignment!({ 'changes.product': [0], 'changes.category': [0] });
      const readsBefore = second.log.reads;
      const [late] = await second.deliver([save(V1, 11, 'Older')]);
      expect(late).toMatchObject({ ok: true, stale: true });
      expect(outputs(late)).toEqual([expect.objectContaining({ topic: 'changes.product', rawValue: newer.raw, sourceVersion: V2, headers: newer.headers })]);
      expect(second.log.reads).toBe(readsBefore + 1);
    });

    it('writes no state again for a record map.state already holds (a redelivery, or a replay group sharing the state)', async () => {
      const first = setup();
      const newer = save(V2, 10, 'Newer');
      await first.deliver([save(V1, 4), newer]);
      const replay = setup({ log: first.log });
      await replay.stage.onAssignment!({ 'changes.product': [0] });
      const results = await replay.deliver([save(V1, 4), newer]);
      expect(results.map(topics)).toEqual([[], ['documents']]);
      expect((results[0] as { stale?: boolean }).stale).toBe(true);
    });

    it('restores without being told the assignment when a partition it has not loaded shows up', async () => {
      const first = setup();
      await first.deliver([remove(V3, 10)]);
      const second = setup({ log: first.log });
      const [late] = await second.deliver([save(V2, 11)]);
      expect(late).toMatchObject({ ok: true, stale: true, outputs: [expect.objectContaining({ rawValue: null, sourceVersion: V3 })] });
    });

    it('keeps only the state of the partitions it owns, and restores a partition that comes back', async () => {
      const { deliver, stage, state, log } = setup();
      await stage.onAssignment!({ 'changes.product': [0, 1] });
      await deliver([save(V2, 10, 'p0', 0)]);
      const key = save(V2, 10).key;
      expect(state.get('changes.product', 0, key)?.version).toBe(V2);
      await stage.onAssignment!({ 'changes.product': [1] });
      expect(state.get('changes.product', 0, key)).toBeUndefined();
      // Another member applied a newer version meanwhile.
      log.append(0, key, { topic: 'changes.product', source_version: V3, occurred_at: 0, deleted: true, change_offset: 30n, value: null, headers: {} });
      await stage.onAssignment!({ 'changes.product': [0, 1] });
      expect(state.get('changes.product', 0, key)).toEqual({ version: V3, deleted: true, offset: 30n, stored: true });
    });

    it('ignores the state records of change topics it does not own on a shared map.state partition', async () => {
      const { stage, state, log } = setup();
      const key = save(V2, 10).key;
      log.append(0, key, { topic: 'changes.product', source_version: V3, occurred_at: 0, deleted: false, change_offset: 3n, value: Buffer.from('x'), headers: {} });
      await stage.onAssignment!({ 'changes.category': [0] });
      expect(state.get('changes.product', 0, key)).toBeUndefined();
      expect(state.stats().keys).toBe(0);
    });
  });

  it('keeps today’s behaviour without a state: every record applies, documents only', async () => {
    const stage = createMapStage(defaultFilters(), { now: () => NOW });
    const results = await stage.process([save(V2, 10), save(V1, 11)], context);
    expect(results.map((r) => (r.ok ? r.outputs.map((o) => o.topic) : []))).toEqual([['documents'], ['documents']]);
    expect(stage.onAssignment).toBeUndefined();
  });
});

describe('the version state cache', () => {
  it('stays within its byte bound and reads an evicted value back from the log', async () => {
    const log = new MemoryStateLog();
    const state = new VersionState(log, { maxCachedBytes: 2_000 });
    const value = (n: number) => Buffer.alloc(600, n);
    for (let n = 0; n < 10; n++) {
      const change = { topic: 'changes.product', key: `t/product/${n}/0`, version: BigInt(n), occurredAt: 0, deleted: false, value: value(n), headers: {} };
      state.apply(0, BigInt(n), change);
      log.append(0, change.key, { topic: change.topic, source_version: change.version, occurred_at: 0, deleted: false, change_offset: BigInt(n), value: change.value, headers: {} });
    }
    expect(state.stats().cachedBytes).toBeLessThanOrEqual(2_000);
    expect(state.stats().keys).toBe(10);
    const found = await state.changes([{ topic: 'changes.product', partition: 0, key: 't/product/0/0' }]);
    expect(found.get('t/product/0/0')?.value).toEqual(value(0));
    expect(log.reads).toBe(1);
  });
});
