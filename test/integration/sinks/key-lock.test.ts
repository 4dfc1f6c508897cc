import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { APPLIED, type Sink, type SinkRecord } from '../../../src/core/sink.js';
import { withKeyLocks } from '../../../src/sinks/key-lock.js';
import { uniqueName } from '../../support/unique.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:16379';
const record = (key: string): SinkRecord => ({ topic: 'changes.product', key, value: {}, sourceVersion: 1n, occurredAt: 0 });

/** A sink that logs when each write starts and ends, taking `ms` per write. */
function slowSink(log: string[], name: string, ms: number): Sink {
  return {
    target: 'shop:test',
    connect: async () => undefined,
    close: async () => undefined,
    async write(records) {
      log.push(`${name} start`);
      await new Promise((resolve) => setTimeout(resolve, ms));
      log.push(`${name} end`);
      return records.map(() => APPLIED);
    },
  };
}

describe('key locks across writers of one target', () => {
  const clients: Redis[] = [];
  const redis = () => {
    const client = new Redis(url);
    clients.push(client);
    return client;
  };
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it('makes writes that share a key wait for each other, on separate connections as separate replicas would have', async () => {
    const prefix = `${uniqueName('lock')}:`;
    const log: string[] = [];
    const product = withKeyLocks(slowSink(log, 'product', 300), redis(), { keyPrefix: prefix });
    const price = withKeyLocks(slowSink(log, 'price', 50), redis(), { keyPrefix: prefix });
    const first = product.write([record('t/product/1/0'), record('t/product/2/0')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([first, price.write([record('t/product/2/0')])]);
    expect(log).toEqual(['product start', 'product end', 'price start', 'price end']);
  });

  it('lets writes of different keys run at once', async () => {
    const prefix = `${uniqueName('lock')}:`;
    const log: string[] = [];
    const a = withKeyLocks(slowSink(log, 'a', 300), redis(), { keyPrefix: prefix });
    const b = withKeyLocks(slowSink(log, 'b', 50), redis(), { keyPrefix: prefix });
    const first = a.write([record('t/product/1/0')]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([first, b.write([record('t/product/9/0')])]);
    expect(log).toEqual(['a start', 'b start', 'b end', 'a end']);
  });

  it('fails as retryable when another writer holds a key past the wait, and a dead holder’s lock expires', async () => {
    const prefix = `${uniqueName('lock')}:`;
    const client = redis();
    // A holder that died: its lock is there, with a short life.
    await client.set(`${prefix}lock:{shop:test}:t/product/3/0`, 'gone-writer', 'PX', 1500);
    const log: string[] = [];
    const impatient = withKeyLocks(slowSink(log, 'x', 10), redis(), { keyPrefix: prefix, waitMs: 300 });
    await expect(impatient.write([record('t/product/3/0')])).rejects.toMatchObject({ errorClass: 'retryable', code: 'key_locked' });
    expect(log).toEqual([]);
    const patient = withKeyLocks(slowSink(log, 'y', 10), redis(), { keyPrefix: prefix, waitMs: 5000 });
    await expect(patient.write([record('t/product/3/0')])).resolves.toEqual([APPLIED]);
    expect(log).toEqual(['y start', 'y end']);
    // Released after the write.
    expect(await client.exists(`${prefix}lock:{shop:test}:t/product/3/0`)).toBe(0);
  });
});
