import { findRagsyncError, PermanentError } from '../core/errors.js';
import { failed, type Sink, type SinkRecord, type SinkResult } from '../core/sink.js';

/**
 * Finds the records a target refused a whole batch for (docs/sinks.md). A target that applies a
 * batch as one transaction (Qdrant's batch update, Shopware's sync API) answers a 400 about one
 * record by refusing all of them. When a write throws a PermanentError, the batch is split in halves
 * and each half is written again, in order, each refused half split again, until every refused
 * record stands alone: it fails with the target's reason, and every other record gets the result
 * its half was given.
 *
 * Calls: one bad record among n costs 1 + 2·⌈log2 n⌉ calls (one of 500: 19); k bad records at most
 * 1 + 2k·⌈log2 n⌉; whatever the batch, at most 2n − 1 (every record alone, as a full binary tree).
 * Only a PermanentError splits: any other error of any call (the target down, the circuit open, a
 * rate limit) ends the write with that error, and records of halves already applied are written
 * again when the batch is retried, which the target's version guard makes harmless.
 */
export function withRecordIsolation<V>(sink: Sink<V>): Sink<V> {
  return {
    target: sink.target,
    connect: () => sink.connect(),
    close: () => sink.close(),
    write: (records) => isolate(records, (part) => sink.write(part)),
  };
}

/** The splitting itself, over any write function; exported for tests. */
export async function isolate<V>(records: readonly SinkRecord<V>[], write: (records: readonly SinkRecord<V>[]) => Promise<SinkResult[]>): Promise<SinkResult[]> {
  if (records.length === 0) return [];
  try {
    return await write(records);
  } catch (error) {
    if (!(findRagsyncError(error) instanceof PermanentError)) throw error;
    if (records.length === 1) return [failed(error)];
    const middle = Math.ceil(records.length / 2);
    const left = await isolate(records.slice(0, middle), write);
    const right = await isolate(records.slice(middle), write);
    return [...left, ...right];
  }
}
