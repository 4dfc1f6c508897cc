import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { CircuitOpenError } from '../../../src/core/signals.js';
import { APPLIED, failed, STALE, type Sink, type SinkResult } from '../../../src/core/sink.js';
import type { InputRecord } from '../../../src/core/stage.js';
import { createSinkStage } from '../../../src/sinks/sink-stage.js';

const record = (key: string, occurredAt = 0): InputRecord<string> => ({ topic: 'things', partition: 0, offset: '0', key, value: key, headers: {}, sourceVersion: 1n, occurredAt });
const context = { heartbeat: async () => undefined, isStale: () => false };

function sinkAnswering(answer: (keys: string[]) => SinkResult[] | Error) {
  const events: string[] = [];
  let connects = 0;
  const sink: Sink<string> = {
    target: 'things:test',
    connect: async () => {
      connects += 1;
      events.push('connect');
      if (connects === 1) throw new RetryableError('not yet', { code: 'down' });
    },
    close: async () => void events.push('close'),
    write: async (records) => {
      events.push(`write ${records.map((r) => r.key).join(',')}`);
      const result = answer(records.map((r) => r.key));
      if (result instanceof Error) throw result;
      return result;
    },
  };
  return { sink, events };
}

describe('a sink stage', () => {
  it('turns applied, stale and failed results into the records’ results, and reports applied ones', async () => {
    const refused = new PermanentError('400', { code: 'rejected' });
    const { sink } = sinkAnswering(() => [APPLIED, STALE, failed(refused)]);
    const applied: number[] = [];
    const stage = createSinkStage({ name: 'push', group: 'push', inputs: ['things'] }, sink, { onApplied: (r) => applied.push(r.occurredAt) });
    await expect(stage.process([record('a', 1)], context)).rejects.toThrow('not yet');
    expect(await stage.process([record('a', 1), record('b', 2), record('c', 3)], context)).toEqual([
      { ok: true, outputs: [] },
      { ok: true, outputs: [], stale: true },
      { ok: false, error: refused },
    ]);
    expect(applied).toEqual([1]);
    expect(stage).toMatchObject({ name: 'push', group: 'push', inputs: ['things'], terminal: true });
  });

  it('connects once, again only after a failed connect, and closes the sink with the stage', async () => {
    const { sink, events } = sinkAnswering((keys) => keys.map(() => APPLIED));
    const stage = createSinkStage({ name: 'push', group: 'push', inputs: ['things'], coPartitioned: true }, sink);
    await stage.process([record('a')], context).catch(() => undefined);
    await stage.process([record('b')], context);
    await stage.process([record('c')], context);
    await stage.close?.();
    expect(events).toEqual(['connect', 'connect', 'write b', 'write c', 'close']);
    expect(stage.coPartitioned).toBe(true);
  });

  it('lets a whole-batch error through for the runner to classify (a circuit open pauses the stage)', async () => {
    const { sink } = sinkAnswering(() => new CircuitOpenError('things:test', 1000));
    const stage = createSinkStage({ name: 'push', group: 'push', inputs: ['things'] }, sink);
    await stage.process([record('a')], context).catch(() => undefined);
    await expect(stage.process([record('a')], context)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('refuses a sink that breaks the one-result-per-record contract', async () => {
    const { sink } = sinkAnswering(() => [APPLIED]);
    const stage = createSinkStage({ name: 'push', group: 'push', inputs: ['things'] }, sink);
    await stage.process([record('a')], context).catch(() => undefined);
    await expect(stage.process([record('a'), record('b')], context)).rejects.toMatchObject({ code: 'sink_contract' });
  });
});
