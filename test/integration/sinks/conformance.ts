import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { classify } from '../../../src/core/errors.js';
import type { Sink, SinkRecord } from '../../../src/core/sink.js';

/** What the target holds for a key, read without the sink under test. */
export type TargetState = { version: bigint; deleted: boolean } | undefined;

/** One test's target: a fresh collection, table or shop, and a way to look behind the sink. */
export interface SinkLocation {
  /** A new, unconnected sink on this location. */
  open(): Sink<unknown>;
  /** What the target holds for `key`, read with a client of its own. */
  read(key: string): Promise<TargetState>;
  cleanup(): Promise<void>;
}

/** Records in the sink's own language: the suite knows keys and versions, the harness the values. */
export interface SinkHarness {
  name: string;
  setup(): Promise<SinkLocation>;
  /** A record that writes `entity` at `version`; its key is what `read` takes. */
  save(entity: string, version: bigint): SinkRecord<unknown>;
  /** A tombstone of `entity` at `version`. */
  remove(entity: string, version: bigint): SinkRecord<unknown>;
  /** A record of `entity` the target refuses for a reason of its own (a PermanentError). */
  refused(entity: string, version: bigint): SinkRecord<unknown>;
}

/**
 * The behaviour every sink shows (src/core/sink.ts), run unchanged against each, wrapped or not, so
 * they cannot drift apart.
 */
export function runSinkConformance(harness: SinkHarness): void {
  describe(`the ${harness.name} sink`, () => {
    let location: SinkLocation;
    let sink: Sink<unknown>;
    const opened: Sink<unknown>[] = [];

    async function openSink(): Promise<Sink<unknown>> {
      const instance = location.open();
      opened.push(instance);
      await instance.connect();
      return instance;
    }

    beforeEach(async () => {
      location = await harness.setup();
      sink = await openSink();
    });

    afterEach(async () => {
      for (const instance of opened.splice(0)) await instance.close();
      await location.cleanup();
    });

    const key = (entity: string) => harness.save(entity, 1n).key;

    it('returns one result per record, in order, and the target holds every record', async () => {
      const records = ['lamp', 'chair', 'desk', 'sofa'].map((entity, i) => harness.save(entity, BigInt(i + 1)));
      expect(await sink.write(records)).toEqual(records.map(() => ({ status: 'applied' })));
      for (const [i, entity] of ['lamp', 'chair', 'desk', 'sofa'].entries()) {
        expect(await location.read(key(entity))).toEqual({ version: BigInt(i + 1), deleted: false });
      }
    });

    it('reports an older version as stale and keeps the newer one', async () => {
      await sink.write([harness.save('lamp', 5n)]);
      expect(await sink.write([harness.save('lamp', 4n)])).toEqual([{ status: 'stale' }]);
      expect(await location.read(key('lamp'))).toEqual({ version: 5n, deleted: false });
    });

    it('applies an equal version again (a redelivery)', async () => {
      await sink.write([harness.save('lamp', 5n)]);
      expect(await sink.write([harness.save('lamp', 5n)])).toEqual([{ status: 'applied' }]);
      expect(await location.read(key('lamp'))).toEqual({ version: 5n, deleted: false });
    });

    it('decides records of one key within a batch as if written one by one', async () => {
      expect(await sink.write([harness.save('lamp', 1n), harness.save('lamp', 3n), harness.save('lamp', 2n)])).toEqual([
        { status: 'applied' },
        { status: 'applied' },
        { status: 'stale' },
      ]);
      expect(await location.read(key('lamp'))).toEqual({ version: 3n, deleted: false });
    });

    it('deletes on a tombstone, and a later stale save does not bring the record back', async () => {
      await sink.write([harness.save('lamp', 1n)]);
      expect(await sink.write([harness.remove('lamp', 2n)])).toEqual([{ status: 'applied' }]);
      expect(await location.read(key('lamp'))).toMatchObject({ deleted: true });
      const fresh = await openSink();
      expect(await fresh.write([harness.save('lamp', 1n)])).toEqual([{ status: 'stale' }]);
      expect(await location.read(key('lamp'))).toMatchObject({ deleted: true });
    });

    it('fails a refused record alone, with a permanent error, and applies the others', async () => {
      const results = await sink.write([harness.save('lamp', 1n), harness.refused('chair', 1n), harness.save('desk', 1n)]);
      expect(results.map((r) => r.status)).toEqual(['applied', 'failed', 'applied']);
      expect(classify((results[1] as { error: unknown }).error)).toBe('permanent');
      expect(await location.read(key('lamp'))).toEqual({ version: 1n, deleted: false });
      expect(await location.read(key('desk'))).toEqual({ version: 1n, deleted: false });
      expect(await location.read(key('chair'))).toBeUndefined();
    });

    it('returns nothing for an empty batch', async () => {
      expect(await sink.write([])).toEqual([]);
    });

    it('names its target the same way in every instance', async () => {
      const other = await openSink();
      expect(sink.target).toMatch(/^[a-z]+:\S+$/);
      expect(other.target).toBe(sink.target);
    });

    it('closes twice without failing', async () => {
      const other = await openSink();
      await other.close();
      await other.close();
    });
  });
}
