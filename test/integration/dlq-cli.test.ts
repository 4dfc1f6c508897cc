import type { Admin, Message, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, type ErrorClass } from '../../src/core/errors.js';
import { encodeVector, HEADERS } from '../../src/core/records.js';
import { dlqMessage } from '../../src/kafka/dlq.js';
import { RegistryClient } from '../../src/kafka/registry.js';
import { RegistrySerde } from '../../src/kafka/serde.js';
import { createTestTopics, readAll, testKafka } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';
import { runCli, type CliResult } from '../support/cli.js';

/**
 * The DLQ tools end to end: records written the way the stage runner writes them, to DLQ topics
 * under a topic prefix of this test's own, read back through `node bin/ragsync.js dlq …`.
 */
const prefix = `${uniqueName('dlq')}.`;
const API_KEY = 'sk-live-0123456789abcdef';
const DAY = 24 * 3600_000;

function ragsync(...args: string[]): Promise<CliResult> {
  return runCli(args, { RAGSYNC_TOPIC_PREFIX: prefix, EMBEDDING_API_KEY: API_KEY });
}

const invalid = (message: string) => new PermanentError(message, { code: 'invalid_document' });
const unavailable = () => new RetryableError('store unreachable: connect ECONNREFUSED', { code: 'target_unavailable' });

/** A DLQ record as the runner writes it, at a chosen partition and dead-letter time. */
function dead(stage: string, input: { topic: string; partition: number; offset: string; key: string; value: Buffer | null; headers?: Record<string, string> }, error: unknown, errorClass: ErrorClass, partition: number, at: number): Message {
  const failed = { topic: input.topic, partition: input.partition, offset: input.offset, key: Buffer.from(input.key), value: input.value, headers: input.headers ?? {} };
  return { ...dlqMessage(stage, failed, error, errorClass, { now: at }), partition, timestamp: String(at) };
}

describe('ragsync dlq', () => {
  const kafka = testKafka();
  const storeDlq = `${prefix}store.dlq`;
  const mapDlq = `${prefix}map.dlq`;
  const vectors = `${prefix}vectors`;
  const marks = `${prefix}dlq.marks`;
  const registry = new RegistryClient({ url: process.env.SCHEMA_REGISTRY_URL! });
  let admin: Admin;
  let producer: Producer;
  const now = Date.now();
  const old = now - 3 * DAY;
  const recent = now - 3600_000;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, [storeDlq], 2);
    await createTestTopics(admin, [mapDlq, `${prefix}chunk.dlq`, `${prefix}embed.dlq`], 1);
    await admin.createTopics({ topics: [{ topic: marks, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    const serde = new RegistrySerde(registry, { prefix });
    const vectorSet = {
      doc_key: 'acme/product/42/1',
      tenant: 'acme',
      entity_type: 'product',
      entity_id: '42',
      store_id: 1,
      source_version: 9_007_199_254_740_993n,
      occurred_at: 1_767_350_400_000,
      doc_type: 'product',
      doc_subtype: null,
      title: 'Trail lantern',
      url: null,
      text_hash: 'a'.repeat(64),
      payload_json: '{"sku":"42"}',
      payload_hash: 'b'.repeat(64),
      model_id: 'hashing-3',
      dimension: 3,
      chunks: [{ id: 'acme/product/42/1#0', index: 0, text: 'A lantern for long trails.', hash: 'c'.repeat(64), token_count: 6, vector: encodeVector([0.25, -1.5, 3]) }],
      touch: false,
    };
    const avro = await serde.encode(vectors, vectorSet);
    const input = (key: string, offset: number, value: Buffer | null = Buffer.from('x'), headers?: Record<string, string>) => ({ topic: vectors, partition: 0, offset: String(offset), key, value, headers });
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();
    await producer.send({
      topic: storeDlq,
      acks: -1,
      messages: [
        dead('store', input('k-old-1', 10), invalid('400: vector of dimension 2'), 'permanent', 0, old),
        dead('store', input('k-old-2', 11), unavailable(), 'retryable', 0, old + 1000),
        dead(
          'store',
          input('acme/product/42/1', 12, avro, { [HEADERS.sourceVersion]: '9007199254740993', authorization: 'Bearer hidden-bearer-token' }),
          invalid(`400 from https://admin:pa55word@store.example/collections: api key ${API_KEY} refused the payload`),
          'permanent',
          0,
          recent,
        ),
        dead('store', input('k-new-2', 13), unavailable(), 'retryable', 0, recent + 1000),
        dead('store', input('k-old-3', 20), invalid('400: payload too large'), 'permanent', 1, old + 2000),
        dead('store', input('k-new-3', 21, null), invalid('400: bad document'), 'permanent', 1, recent + 2000),
      ],
    });
    await producer.send({
      topic: mapDlq,
      acks: -1,
      messages: [dead('map', { topic: `${prefix}changes.product`, partition: 0, offset: '5', key: 'k-map', value: Buffer.from([0xff, 0xfe, 0x01]) }, new PermanentError('not in the Confluent wire format', { code: 'not_wire_format' }), 'permanent', 0, recent)],
    });
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin.deleteTopics({ topics: [storeDlq, mapDlq, `${prefix}chunk.dlq`, `${prefix}embed.dlq`, marks] }).catch(() => undefined);
    await admin.disconnect();
    await registry.deleteSubject(`${vectors}-value`).catch(() => undefined);
  });

  it('lists every group with its records counted by error code, times and the newest keys', async () => {
    const { code, out, err } = await ragsync('dlq', 'list', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const summaries = JSON.parse(out) as Array<Record<string, unknown>>;
    expect(summaries.map((s) => [s.group, s.records, s.pending, s.replayed, s.purged])).toEqual([
      ['map', 1, 1, 0, 0],
      ['chunk', 0, 0, 0, 0],
      ['embed', 0, 0, 0, 0],
      ['store', 6, 6, 0, 0],
    ]);
    const store = summaries.find((s) => s.group === 'store')!;
    expect(store.oldest).toBe(new Date(old).toISOString());
    expect(store.newest).toBe(new Date(recent + 2000).toISOString());
    expect((store.byCode as Array<Record<string, unknown>>).map((c) => [c.code, c.errorClass, c.count, c.stages])).toEqual([
      ['invalid_document', 'permanent', 4, ['store']],
      ['target_unavailable', 'retryable', 2, ['store']],
    ]);
    expect((store.samples as Array<{ key: string }>).slice(0, 3).map((s) => s.key)).toEqual(['k-new-3', 'k-new-2', 'acme/product/42/1']);
    expect(out).not.toContain(API_KEY);
    expect(out).not.toContain('pa55word');
  });

  it('prints the same for people, one group only with --group', async () => {
    const { code, out } = await ragsync('dlq', 'list', '--group', 'store');
    expect(code).toBe(0);
    const lines = out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^store  ${storeDlq.replace(/\./g, '\\.')}  6 to handle, dead-lettered ${new Date(old).toISOString()} … `));
    expect(lines[1]).toMatch(/^ +4 {2}permanent {2}invalid_document +\[store\] {2}last store:1:1: 400: bad document$/);
    expect(lines[2]).toMatch(/^ +2 {2}retryable {2}target_unavailable \[store\] {2}last store:0:3: store unreachable/);
    expect(out).not.toMatch(/^map/m);
  });

  it('shows one record with its headers and its Avro value decoded, and no secret', async () => {
    const { code, out, err } = await ragsync('dlq', 'show', 'store:0:2', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const view = JSON.parse(out);
    expect(view).toMatchObject({
      ref: 'store:0:2',
      topic: storeDlq,
      deadLetteredAt: new Date(recent).toISOString(),
      key: 'acme/product/42/1',
      stage: 'store',
      error: { class: 'permanent', code: 'invalid_document' },
      attempt: 1,
      original: { topic: vectors, partition: 0, offset: '12' },
    });
    expect(view.headers).toMatchObject({ [HEADERS.sourceVersion]: '9007199254740993', [HEADERS.origOffset]: '12', authorization: '[redacted]' });
    expect(view.value.encoding).toBe('avro');
    expect(view.value.value).toMatchObject({ doc_key: 'acme/product/42/1', source_version: '9007199254740993', title: 'Trail lantern', model_id: 'hashing-3' });
    expect(view.value.value.chunks[0]).toMatchObject({ text: 'A lantern for long trails.', vector: '<12 bytes>' });
    expect(view.error.message).toBe('400 from https://***@store.example/collections: api key *** refused the payload');
    for (const secret of [API_KEY, 'pa55word', 'hidden-bearer-token']) expect(out).not.toContain(secret);
  });

  it('shows a record that is not Avro, and one without a value, for people', async () => {
    const map = await ragsync('dlq', 'show', 'map:0:0');
    expect(map.code).toBe(0);
    expect(map.out).toContain('error          permanent not_wire_format: not in the Confluent wire format');
    expect(map.out).toContain(`input          ${prefix}changes.product partition 0 offset 5`);
    expect(map.out).toContain('value (3 bytes, not text)');
    const headersOnly = await ragsync('dlq', 'show', 'store:1:1');
    expect(headersOnly.code).toBe(0);
    expect(headersOnly.out).toContain('value (none)');
  });

  it('answers a wrong group with exit code 2 and the list of groups', async () => {
    const { code, out, err } = await ragsync('dlq', 'list', '--group', 'stor');
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err.trim()).toBe('error: unknown group "stor": expected one of map, chunk, embed, store');
  });

  it('says what a purge would delete without deleting anything on --dry-run', async () => {
    const before = new Date(now - DAY).toISOString();
    const { code, out } = await ragsync('dlq', 'purge', '--group', 'store', '--before', before, '--dry-run');
    expect(code).toBe(0);
    expect(out.trim().split('\n')).toEqual([
      `${storeDlq}: records dead-lettered before ${before}`,
      '  partition 0: offsets 0 to 1 (2 records)',
      '  partition 1: offsets 0 to 0 (1 record)',
      'would delete 3 records (dry run: nothing deleted)',
    ]);
    expect(await readAll(kafka, storeDlq)).toHaveLength(6);
  });

  it('purges only the records dead-lettered before the time, and a purged record is gone', async () => {
    const { code, out } = await ragsync('dlq', 'purge', '--group', 'store', '--before', new Date(now - DAY).toISOString(), '--json');
    expect(code).toBe(0);
    const result = JSON.parse(out);
    expect(result.deleted).toBe(3);
    expect(result.partitions).toEqual([
      { partition: 0, lowBefore: '0', lowAfter: '2', deleted: 2 },
      { partition: 1, lowBefore: '0', lowAfter: '1', deleted: 1 },
    ]);
    const left = await readAll(kafka, storeDlq);
    expect(left.map((r) => r.key).sort()).toEqual(['acme/product/42/1', 'k-new-2', 'k-new-3']);
    expect(await readAll(kafka, mapDlq)).toHaveLength(1);

    const gone = await ragsync('dlq', 'show', 'store:0:0');
    expect(gone.code).toBe(1);
    expect(gone.err.trim()).toMatch(new RegExp(`^ragsync: no record at store:0:0 \\(purged or past retention\\); partition 0 of ${storeDlq.replace(/\./g, '\\.')} holds offsets 2 to 3; deleted by \`dlq purge\` \\(the last purge of the partition ran at \\d{4}-`));
    const listed = JSON.parse((await ragsync('dlq', 'list', '--group', 'store', '--json')).out);
    expect(listed[0]).toMatchObject({ records: 3, pending: 3, replayed: 0, purged: 3 });
    expect(listed[0].oldest).toBe(new Date(recent).toISOString());
    const marked = await readAll(kafka, marks);
    expect(marked.map((m) => [m.key, JSON.parse(m.value!.toString())]).sort()).toEqual([
      ['store:0:purged', expect.objectContaining({ state: 'purged', upTo: '2', total: 2, before: new Date(now - DAY).toISOString() })],
      ['store:1:purged', expect.objectContaining({ state: 'purged', upTo: '1', total: 1 })],
    ]);
    const text = await ragsync('dlq', 'list', '--group', 'store');
    expect(text.out.split('\n')[0]).toMatch(/ 3 to handle \(3 purged\), dead-lettered /);
  });
});
