import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../src/kafka/batching-producer.js';
import { loadConfig } from '../../../src/config/index.js';
import { ProducerThread, packRecords, unpackRecords } from '../../../src/kafka/producer-thread.js';

/** A record as the thread hands it to the client: keys and header values as bytes. */
const asBytes = (record: OutgoingRecord) => ({
  topic: record.topic,
  key: Buffer.from(record.key as string, 'utf8'),
  value: record.value,
  headers: Object.fromEntries(Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value as string, 'utf8')])),
});

describe('records packed for the producer thread', () => {
  const records: OutgoingRecord[] = [
    { topic: 'shop.changes.product', key: 'acme:0:product:LAMP-1', value: Buffer.from([1, 2, 3]), headers: { source_version: '17', occurred_at: '1781524800000' } },
    // A tombstone, a key and a header value outside ASCII, a lone surrogate (written as U+FFFD, as Kafka clients write text).
    { topic: 'shop.changes.category', key: 'acme:0:category:Möbel/Küche', value: null, headers: { source_version: '3', note: 'größe \ud800 日本' } },
    { topic: 'shop.changes.product', key: 'acme:0:product:EMPTY', value: Buffer.alloc(0), headers: {} },
    // An empty key and an empty header value.
    { topic: 'shop.changes.product', key: '', value: Buffer.from('x'), headers: { source_version: '' } },
  ];

  it('come back as the same topics, key bytes, values and headers, in order', () => {
    expect(unpackRecords(packRecords(records))).toEqual(records.map(asBytes));
  });

  it('keep records given as bytes as they are', () => {
    const bytes = records.map(asBytes);
    expect(unpackRecords(packRecords(bytes))).toEqual(bytes);
  });

  it('append the records of several parts, in the order of the parts', () => {
    const into: OutgoingRecord[] = [];
    unpackRecords(packRecords(records.slice(0, 2)), into);
    unpackRecords(packRecords([]), into);
    unpackRecords(packRecords(records.slice(2)), into);
    expect(into).toEqual(records.map(asBytes));
  });

  it('hold every byte in one buffer and no string per record but topic and header names', () => {
    const packed = packRecords(records);
    const expected = records.reduce(
      (sum, r) => sum + Buffer.byteLength(r.key as string) + (r.value?.length ?? 0) + Object.values(r.headers).reduce((n, v) => n + Buffer.byteLength(v as string), 0),
      0,
    );
    expect(packed.bytes.byteLength).toBe(expected);
    expect(packed.topics).toEqual(['shop.changes.product', 'shop.changes.category']);
    expect(packed.names).toEqual(['source_version', 'occurred_at', 'note']);
    expect(packed.count).toBe(4);
  });
});

describe('a packed part sent a second time', () => {
  it('is refused before anything is posted: its buffers were handed over with the first call', async () => {
    // Nothing listens at this address; the call is refused before the thread would try.
    const thread = new ProducerThread({ kafka: loadConfig({ overrides: { 'kafka.brokers': ['127.0.0.1:1'] } }).kafka });
    try {
      const part = packRecords([{ topic: 'shop.changes.product', key: 'k', value: Buffer.from('v'), headers: {} }]);
      // As posting it to the thread does: the buffers move, and this side keeps empty ones.
      structuredClone(part, { transfer: [part.bytes, part.layout.buffer as ArrayBuffer] });
      await expect(thread.sendPacked([part], 1000)).rejects.toMatchObject({ code: 'kafka_packed_resent', errorClass: 'system' });
    } finally {
      await thread.close(1000);
    }
  });
});
