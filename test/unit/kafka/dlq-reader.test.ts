import type { KafkaMessage } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { PermanentError, RetryableError } from '../../../src/core/errors.js';
import { dlqMessage } from '../../../src/kafka/dlq.js';
import { DlqSummaryBuilder, DlqUsageError, formatDlqRef, parseDlqRef, toDeadRecord } from '../../../src/kafka/dlq-reader.js';

describe('a DLQ record reference <group>:<partition>:<offset>', () => {
  it('reads group, partition and a 64-bit offset kept as text', () => {
    expect(parseDlqRef('store:3:42')).toEqual({ group: 'store', partition: 3, offset: '42' });
    expect(parseDlqRef(' map:0:9223372036854775806 ')).toEqual({ group: 'map', partition: 0, offset: '9223372036854775806' });
    expect(parseDlqRef('chunk:1:007')).toEqual({ group: 'chunk', partition: 1, offset: '7' });
  });

  it('round-trips through formatDlqRef', () => {
    expect(formatDlqRef(parseDlqRef('embed:2:15'))).toBe('embed:2:15');
  });

  it.each(['store', 'store:1', 'store:a:1', 'store:1:-1', 'store:1:2:3', ':1:2', 'store 1 2'])('refuses "%s" as a usage error naming the format', (text) => {
    expect(() => parseDlqRef(text)).toThrow(DlqUsageError);
    expect(() => parseDlqRef(text)).toThrow('expected <group>:<partition>:<offset>');
  });

  it('refuses an unknown group with the list of groups', () => {
    expect(() => parseDlqRef('stroe:0:1')).toThrow('unknown group "stroe": expected one of map, chunk, embed, store');
    expect(parseDlqRef('push:0:1', ['store', 'push']).group).toBe('push');
  });
});

/** A DLQ record as the runner writes it, as kafkajs hands it to a consumer. */
function consumed(offset: string, at: number, error: unknown, errorClass: 'permanent' | 'retryable', stage = 'store', key = `k-${offset}`): KafkaMessage {
  const message = dlqMessage(stage, { topic: 'ragsync.vectors', partition: 2, offset: '700', key: Buffer.from(key), value: Buffer.from('v'), headers: {} }, error, errorClass, { now: at });
  const headers = Object.fromEntries(Object.entries(message.headers!).map(([k, v]) => [k, Buffer.from(String(v))]));
  return { key: message.key as Buffer, value: message.value as Buffer, headers, offset, timestamp: String(at), attributes: 0 } as KafkaMessage;
}

describe('a DLQ record read back', () => {
  it('has its ragsync headers read out', () => {
    const record = toDeadRecord('store', 'ragsync.store.dlq', 1, consumed('5', 1_000, new PermanentError('400 bad', { code: 'invalid_document' }), 'permanent'));
    expect(record).toMatchObject({
      ref: 'store:1:5',
      timestamp: 1_000,
      key: 'k-5',
      stage: 'store',
      errorClass: 'permanent',
      errorCode: 'invalid_document',
      errorMessage: '400 bad',
      attempt: 1,
      firstFailureAt: new Date(1_000).toISOString(),
      original: { topic: 'ragsync.vectors', partition: 2, offset: '700' },
    });
  });
});

describe('the summary of a DLQ', () => {
  const bad = new PermanentError('400: bad document', { code: 'invalid_document' });
  const down = (n: number) => new RetryableError(`503 #${n}`, { code: 'target_unavailable' });

  it('counts records by code and class, most frequent first, with the newest message of each', () => {
    const builder = new DlqSummaryBuilder('store', 'ragsync.store.dlq', 2);
    const records = [
      consumed('0', 3_000, down(1), 'retryable'),
      consumed('1', 1_000, bad, 'permanent'),
      consumed('2', 5_000, down(2), 'retryable'),
      consumed('3', 2_000, down(3), 'retryable', 'embed'),
    ];
    for (const m of records) builder.add(toDeadRecord('store', 'ragsync.store.dlq', 0, m));
    expect(builder.result()).toEqual({
      group: 'store',
      topic: 'ragsync.store.dlq',
      exists: true,
      records: 4,
      pending: 4,
      replayed: 0,
      purged: 0,
      oldest: new Date(1_000).toISOString(),
      newest: new Date(5_000).toISOString(),
      byCode: [
        { code: 'target_unavailable', errorClass: 'retryable', count: 3, stages: ['embed', 'store'], lastMessage: '503 #2', lastRef: 'store:0:2' },
        { code: 'invalid_document', errorClass: 'permanent', count: 1, stages: ['store'], lastMessage: '400: bad document', lastRef: 'store:0:1' },
      ],
      samples: [
        { ref: 'store:0:2', key: 'k-2', code: 'target_unavailable', at: new Date(5_000).toISOString() },
        { ref: 'store:0:0', key: 'k-0', code: 'target_unavailable', at: new Date(3_000).toISOString() },
      ],
    });
  });

  it('says when the topic does not exist, and has no times when empty', () => {
    expect(new DlqSummaryBuilder('map', 'ragsync.map.dlq').result(false)).toEqual({ group: 'map', topic: 'ragsync.map.dlq', exists: false, records: 0, pending: 0, replayed: 0, purged: 0, byCode: [], samples: [] });
  });

  it('counts replayed records apart: codes, times and samples are those still to handle', () => {
    const builder = new DlqSummaryBuilder('store', 'ragsync.store.dlq');
    builder.add(toDeadRecord('store', 'ragsync.store.dlq', 0, consumed('0', 1_000, bad, 'permanent')), 'replayed');
    builder.add(toDeadRecord('store', 'ragsync.store.dlq', 0, consumed('1', 2_000, down(1), 'retryable')));
    builder.add(toDeadRecord('store', 'ragsync.store.dlq', 0, consumed('2', 3_000, bad, 'permanent')), 'replayed');
    const result = builder.result(true, 5);
    expect(result).toMatchObject({ records: 3, pending: 1, replayed: 2, purged: 5, oldest: new Date(2_000).toISOString(), newest: new Date(2_000).toISOString() });
    expect(result.byCode.map((c) => [c.code, c.count])).toEqual([['target_unavailable', 1]]);
    expect(result.samples.map((x) => x.ref)).toEqual(['store:0:1']);
  });

  it('has no times when every record was replayed', () => {
    const builder = new DlqSummaryBuilder('store', 'ragsync.store.dlq');
    builder.add(toDeadRecord('store', 'ragsync.store.dlq', 0, consumed('0', 1_000, bad, 'permanent')), 'replayed');
    expect(builder.result()).toEqual({ group: 'store', topic: 'ragsync.store.dlq', exists: true, records: 1, pending: 0, replayed: 1, purged: 0, byCode: [], samples: [] });
  });
});
