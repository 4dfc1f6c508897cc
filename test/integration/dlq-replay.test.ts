import type { Admin, Message, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentError, RetryableError, type ErrorClass } from '../../src/core/errors.js';
import { HEADERS } from '../../src/core/records.js';
import type { InputRecord, RecordResult, StageDefinition } from '../../src/core/stage.js';
import type { RecordCodec } from '../../src/kafka/codec.js';
import { dlqMessage } from '../../src/kafka/dlq.js';
import { DlqReplayer, partitionOf } from '../../src/kafka/dlq-replay.js';
import { createRetryStage, retryConsumerOptions, withRetryDue } from '../../src/kafka/retry-topics.js';
import { StageRunner, type StageRunnerOptions } from '../../src/kafka/stage-runner.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTestTopics, readAll, testKafka, waitUntil, type ReadRecord } from '../support/kafka.js';
import { uniqueName } from '../support/unique.js';
import { runCli, type CliResult } from '../support/cli.js';

/**
 * `dlq replay` end to end against the real broker: DLQ records written the way the stage runner
 * writes them, input topics holding older and newer records of the same keys, and what landed
 * read back with a Kafka client of the test's own.
 */
const prefix = `${uniqueName('replay')}.`;

async function ragsync(...args: string[]): Promise<CliResult> {
  return run(prefix, args);
}

function run(topicPrefix: string, args: string[]): Promise<CliResult> {
  return runCli(args, { RAGSYNC_TOPIC_PREFIX: topicPrefix, RAGSYNC_RETRY_DELAYS: '2s,4s' });
}

const invalid = () => new PermanentError('400: the document was refused', { code: 'invalid_document' });
const unavailable = () => new RetryableError('store unreachable: connect ECONNREFUSED', { code: 'target_unavailable' });
const tooLarge = () => new PermanentError('record over max.message.bytes', { code: 'record_too_large' });
const poison = () => new PermanentError('not in the Confluent wire format', { code: 'not_wire_format' });

/** A DLQ record as the runner writes it. */
function dead(stage: string, input: { topic: string; partition: number; offset: string; key: string; value: Buffer | null; headers?: Record<string, string> }, error: unknown, errorClass: ErrorClass, headersOnly = false): Message {
  const failed = { topic: input.topic, partition: input.partition, offset: input.offset, key: Buffer.from(input.key), value: input.value, headers: input.headers ?? {} };
  return { ...dlqMessage(stage, failed, error, errorClass, { headersOnly }), partition: 0 };
}

describe('ragsync dlq replay', () => {
  const kafka = testKafka();
  const t = (logical: string) => `${prefix}${logical}`;
  const storeDlq = t('store.dlq');
  const retry0 = t('store.retry.2s');
  const retry1 = t('store.retry.4s');
  const marks = t('dlq.marks');
  const vectors = t('vectors');
  const changes = t('changes.product');
  const documents = t('documents');
  const chunks = t('chunks');
  const deleteTopics = [storeDlq, retry0, retry1, marks, vectors, changes, documents, chunks, t('map.dlq'), t('chunk.dlq'), t('embed.dlq')];
  let admin: Admin;
  let producer: Producer;
  /** Offsets of the input records, by name. */
  const at: Record<string, string> = {};

  const send = async (topic: string, messages: Message[]) => {
    const result = await producer.send({ topic, acks: -1, messages });
    return result[0]!.baseOffset!;
  };
  const ends = async (topic: string) => (await admin.fetchTopicOffsets(topic)).map((p) => `${p.partition}:${p.high}`).sort().join(',');

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, [storeDlq, t('map.dlq'), t('chunk.dlq'), t('embed.dlq'), changes, documents, chunks, vectors], 1);
    await createTestTopics(admin, [retry0, retry1], 2);
    await admin.createTopics({ topics: [{ topic: marks, numPartitions: 2, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
    producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true });
    await producer.connect();

    // Inputs: older and newer records of the same keys, as compaction may still hold them.
    at.kcOld = await send(vectors, [{ key: 'kc', value: Buffer.from('kc version 1') }]);
    at.kcNew = await send(vectors, [{ key: 'kc', value: Buffer.from('kc version 2'), headers: { [HEADERS.sourceVersion]: '2' } }]);
    at.kmOld = await send(changes, [{ key: 'km', value: Buffer.from('km version 1'), headers: { [HEADERS.sourceVersion]: '1' } }]);
    at.ktOld = await send(changes, [{ key: 'kt', value: Buffer.from('kt version 1') }]);
    at.kmNew = await send(changes, [{ key: 'km', value: Buffer.from([0, 0, 0, 0, 7, 0xff, 0x02]), headers: { [HEADERS.sourceVersion]: '5', [HEADERS.occurredAt]: '1700000000000' } }]);
    at.ktGone = await send(changes, [{ key: 'kt', value: null, headers: { [HEADERS.sourceVersion]: '9' } }]);
    at.kdOld = await send(documents, [{ key: 'kd', value: Buffer.from('kd version 1') }]);
    at.kdNew = await send(documents, [{ key: 'kd', value: Buffer.from('kd version 2') }]);
    at.ke = await send(chunks, [{ key: 'ke', value: Buffer.from('ke version 1') }]);

    const vectorsInput = (key: string, offset: string, value: Buffer | null) => ({ topic: vectors, partition: 0, offset, key, value, headers: { [HEADERS.sourceVersion]: '1', 'x-trace': 'abc' } });
    await send(storeDlq, [
      dead('store', vectorsInput('ka', '100', Buffer.from('ka bytes')), invalid(), 'permanent'),
      dead('store', vectorsInput('kb', '101', Buffer.from('kb bytes')), unavailable(), 'retryable'),
      // Too large to copy: headers only; the dead one was version 1.
      dead('store', vectorsInput('kc', at.kcOld, Buffer.from('kc version 1')), tooLarge(), 'permanent', true),
    ]);
    await send(t('map.dlq'), [
      dead('map', { topic: changes, partition: 0, offset: at.kmOld, key: 'km', value: Buffer.from('km version 1') }, poison(), 'permanent'),
      dead('map', { topic: changes, partition: 0, offset: at.ktOld, key: 'kt', value: Buffer.from('kt version 1') }, poison(), 'permanent'),
      dead('map', { topic: changes, partition: 0, offset: '999', key: 'k-never-written', value: Buffer.from('x') }, poison(), 'permanent'),
    ]);
    await send(t('chunk.dlq'), [dead('chunk', { topic: documents, partition: 0, offset: at.kdOld, key: 'kd', value: Buffer.from('kd version 1') }, invalid(), 'permanent')]);
    await send(t('embed.dlq'), [dead('embed', { topic: chunks, partition: 0, offset: at.ke, key: 'ke', value: Buffer.from('ke version 1') }, invalid(), 'permanent')]);
  });

  afterAll(async () => {
    await producer?.disconnect();
    await admin.deleteTopics({ topics: deleteTopics }).catch(() => undefined);
    await admin.disconnect();
  });

  it('says on --dry-run what it would replay, and produces and marks nothing', async () => {
    const before = await Promise.all([retry0, marks, changes, documents, chunks].map(ends));
    const { code, out, err } = await ragsync('dlq', 'replay', '--dry-run');
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain('store:0:0  invalid_document  key ka: would replay through its first retry tier');
    expect(out).toContain(`map:0:0  not_wire_format  key km: would replay from the key's current input (current input: ${changes} partition 0 offset ${at.kmNew})`);
    expect(out).toContain(`map:0:1  not_wire_format  key kt: would replay from the key's current input (current input: ${changes} partition 0 offset ${at.ktGone}, a delete)`);
    expect(out).toContain(`map:0:2  not_wire_format  key k-never-written: not replayable: the key has no record in ${changes} partition 0 any more`);
    expect(out).toContain('store: would replay 3 records (1 invalid_document, 1 record_too_large, 1 target_unavailable)');
    expect(out).toContain('map: would replay 2 records (2 not_wire_format); skipped 1 not replayable');
    expect(out.trim().split('\n').at(-1)).toBe('dry run: nothing was produced and nothing marked');
    expect(await Promise.all([retry0, marks, changes, documents, chunks].map(ends))).toEqual(before);
  });

  it('replays only the records --filter code= selects, into the first retry tier with the replay headers, and marks them', async () => {
    const { code, out, err } = await ragsync('dlq', 'replay', '--group', 'store', '--filter', 'code=invalid_document', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.groups).toEqual([{ group: 'store', topic: storeDlq, exists: true, replayed: 1, byCode: { invalid_document: 1 }, skipped: { alreadyReplayed: 0, filtered: 2, notReplayable: 0 } }]);
    const landed = await readAll(kafka, retry0);
    expect(landed).toHaveLength(1);
    const record = landed[0]!;
    expect(record.partition).toBe(partitionOf('ka', 2));
    expect(record.key).toBe('ka');
    expect(record.value).toEqual(Buffer.from('ka bytes'));
    expect(record.headers).toMatchObject({
      [HEADERS.origTopic]: vectors,
      [HEADERS.origPartition]: '0',
      [HEADERS.origOffset]: '100',
      [HEADERS.retryTier]: '0',
      [HEADERS.attempt]: '1',
      [HEADERS.replayOf]: 'store:0:0',
      [HEADERS.errorCode]: 'invalid_document',
      [HEADERS.sourceVersion]: '1',
      'x-trace': 'abc',
    });
    expect(Math.abs(Date.parse(record.headers[HEADERS.dueAt]!) - Date.now())).toBeLessThan(60_000);
    expect(report.replayed[0]).toMatchObject({ ref: 'store:0:0', path: 'retry', to: { topic: retry0, partition: record.partition, offset: record.offset } });

    const marked = await readAll(kafka, marks);
    expect(marked.map((m) => m.key)).toEqual(['store:0:0']);
    expect(JSON.parse(marked[0]!.value!.toString())).toMatchObject({ state: 'replayed', to: { topic: retry0, partition: record.partition, offset: record.offset, via: 'retry' } });
  });

  it('counts a replayed record apart from the depth, and shows when and where it went', async () => {
    const listed = JSON.parse((await ragsync('dlq', 'list', '--group', 'store', '--json')).out);
    expect(listed[0]).toMatchObject({ records: 3, pending: 2, replayed: 1, purged: 0 });
    expect(listed[0].byCode.map((c: { code: string }) => c.code).sort()).toEqual(['record_too_large', 'target_unavailable']);
    const shown = JSON.parse((await ragsync('dlq', 'show', 'store:0:0', '--json')).out);
    expect(shown.replayed).toMatchObject({ to: { topic: retry0, via: 'retry' } });
    const text = await ragsync('dlq', 'show', 'store:0:1');
    expect(text.out).toContain('replayed       no');
  });

  it('replays a terminal record stored without its value from the key\'s current input, and skips what was replayed', async () => {
    const { code, out } = await ragsync('dlq', 'replay', '--group', 'store');
    expect(code).toBe(0);
    expect(out).toContain(`store:0:2  stored without its value (too large to copy into the DLQ, or a delete): replayed from the key's current input in ${vectors}`);
    expect(out).toContain('store: replayed 2 records (1 record_too_large, 1 target_unavailable); skipped 1 replayed before (--again to replay them once more)');
    const landed = await readAll(kafka, retry0);
    expect(landed.map((r) => r.key).sort()).toEqual(['ka', 'kb', 'kc']);
    const kc = landed.find((r) => r.key === 'kc')!;
    // The newest record of the key, not the dead version 1, with its own coordinates.
    expect(kc.value).toEqual(Buffer.from('kc version 2'));
    expect(kc.headers).toMatchObject({ [HEADERS.origTopic]: vectors, [HEADERS.origOffset]: at.kcNew, [HEADERS.sourceVersion]: '2', [HEADERS.replayOf]: 'store:0:2', [HEADERS.retryTier]: '0', [HEADERS.errorCode]: 'record_too_large' });
  });

  it('does nothing the second time without --again, and replays one record again with --again --ref', async () => {
    const second = await ragsync('dlq', 'replay', '--group', 'store');
    expect(second.code).toBe(0);
    expect(second.out.trim()).toBe('store: replayed 0 records; skipped 3 replayed before (--again to replay them once more)');
    expect(await readAll(kafka, retry0)).toHaveLength(3);

    const again = await ragsync('dlq', 'replay', '--ref', 'store:0:1', '--again');
    expect(again.code).toBe(0);
    expect(again.out.trim()).toBe('store: replayed 1 record (1 target_unavailable)');
    expect((await readAll(kafka, retry0)).filter((r) => r.key === 'kb')).toHaveLength(2);
  });

  it('re-processes intermediate records from their key\'s newest input, never the dead older one', async () => {
    const before = { changes: await readAll(kafka, changes), documents: await readAll(kafka, documents), chunks: await readAll(kafka, chunks) };
    const { code, out, err } = await ragsync('dlq', 'replay', '--json');
    expect(err).toBe('');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.groups.map((g: { group: string; replayed: number }) => [g.group, g.replayed])).toEqual([
      ['map', 2],
      ['chunk', 1],
      ['embed', 1],
      ['store', 0],
    ]);
    expect(report.notReplayable).toEqual([expect.objectContaining({ ref: 'map:0:2', key: 'k-never-written' })]);

    const added = async (topic: string, previous: ReadRecord[]) => (await readAll(kafka, topic)).slice(previous.length);
    const newChanges = await added(changes, before.changes);
    expect(newChanges.map((r) => [r.key, r.value, r.headers[HEADERS.replayOf]])).toEqual(
      expect.arrayContaining([
        ['km', Buffer.from([0, 0, 0, 0, 7, 0xff, 0x02]), 'map:0:0'],
        ['kt', null, 'map:0:1'],
      ]),
    );
    expect(newChanges).toHaveLength(2);
    // Exact headers of the newest input, plus where the replay came from.
    expect(newChanges.find((r) => r.key === 'km')!.headers).toEqual({ [HEADERS.sourceVersion]: '5', [HEADERS.occurredAt]: '1700000000000', [HEADERS.replayOf]: 'map:0:0' });
    expect(newChanges.find((r) => r.key === 'kt')!.headers[HEADERS.sourceVersion]).toBe('9');
    expect((await added(documents, before.documents)).map((r) => [r.key, r.value?.toString()])).toEqual([['kd', 'kd version 2']]);
    expect((await added(chunks, before.chunks)).map((r) => [r.key, r.value?.toString()])).toEqual([['ke', 'ke version 1']]);

    const listed = JSON.parse((await ragsync('dlq', 'list', '--json')).out);
    expect(listed.map((s: { group: string; pending: number; replayed: number }) => [s.group, s.pending, s.replayed])).toEqual([
      ['map', 1, 2],
      ['chunk', 0, 1],
      ['embed', 0, 1],
      ['store', 0, 3],
    ]);
  });

  it('removes the replay marks of purged records and counts them as purged', async () => {
    const { code } = await ragsync('dlq', 'purge', '--group', 'store', '--before', new Date(Date.now() + 60_000).toISOString());
    expect(code).toBe(0);
    const latest = new Map((await readAll(kafka, marks)).map((m) => [m.key, m.value === null ? null : JSON.parse(m.value.toString())]));
    expect(['store:0:0', 'store:0:1', 'store:0:2'].map((ref) => latest.get(ref))).toEqual([null, null, null]);
    expect(latest.get('store:0:purged')).toMatchObject({ state: 'purged', upTo: '3', total: 3 });
    // Marks of other groups stay.
    expect(latest.get('map:0:0')).toMatchObject({ state: 'replayed' });
    const listed = JSON.parse((await ragsync('dlq', 'list', '--group', 'store', '--json')).out);
    expect(listed[0]).toMatchObject({ records: 0, pending: 0, replayed: 0, purged: 3 });
  });

  it('refuses to replay when the marks topic was never created, naming the command to run', async () => {
    const bare = `${uniqueName('replay-bare')}.`;
    const { code, err } = await run(bare, ['dlq', 'replay', '--dry-run']);
    expect(code).toBe(1);
    expect(err.trim()).toBe(`ragsync: topic ${bare}dlq.marks does not exist (run \`ragsync topics apply\`): it records which dead-lettered records were replayed or purged`);
  });

  it('answers a malformed filter with exit code 2', async () => {
    const { code, err } = await ragsync('dlq', 'replay', '--filter', 'stage=store');
    expect(code).toBe(2);
    expect(err.trim()).toBe('error: --filter "stage=store": expected code=<error code> or key=<part of the key>');
  });
});

interface Item {
  name: string;
  source_version: bigint;
  occurred_at: number;
}

/** A terminal stage's target with a version guard per key that refuses what it is told to. */
class Target {
  readonly applied = new Map<string, bigint>();
  readonly refused = new Set<string>();
  stale = 0;

  stage(): StageDefinition<Item, never> {
    return { name: 'sink', group: 'sink', inputs: ['in'], terminal: true, coPartitioned: true, process: async (records) => records.map((r) => this.write(r)) };
  }

  private write(record: InputRecord<Item>): RecordResult<never> {
    if (this.refused.has(record.key)) return { ok: false, error: new PermanentError(`the target refuses ${record.key}`, { code: 'validation_failed' }) };
    const current = this.applied.get(record.key);
    if (current !== undefined && current > record.sourceVersion) {
      this.stale += 1;
      return { ok: true, outputs: [], stale: true };
    }
    this.applied.set(record.key, record.sourceVersion);
    return { ok: true, outputs: [] };
  }
}

describe('a replay of a terminal group through its retry consumer', () => {
  const kafka = testKafka();
  const prefix = `${uniqueName('replay-e2e')}.`;
  const delays = [2_000, 3_000];
  const topics = [`${prefix}in`, `${prefix}sink.dlq`, `${prefix}sink.retry.2s`, `${prefix}sink.retry.3s`, `${prefix}sink.retry.due`];
  const runners: StageRunner[] = [];
  let admin: Admin;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, topics, 2);
    await admin.createTopics({ topics: [{ topic: `${prefix}dlq.marks`, numPartitions: 1, replicationFactor: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
  });

  afterAll(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await admin.deleteTopics({ topics: [...topics, `${prefix}dlq.marks`] }).catch(() => undefined);
    await admin.disconnect();
  });

  const codec: RecordCodec = {
    async decode(topic, bytes) {
      // Only the input topic has a "schema": a retry record must be decoded as a record of it.
      if (topic !== `${prefix}in`) throw new PermanentError(`no value schema for topic ${topic}`, { code: 'no_schema_for_topic' });
      const value = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      return { ...value, source_version: BigInt(value.source_version as string) };
    },
    async encode() {
      throw new PermanentError('the sink has no outputs', { code: 'unexpected_output' });
    },
  };

  async function publish(key: string, version: number): Promise<void> {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const value = JSON.stringify({ name: `${key}-v${version}`, source_version: String(version), occurred_at: 1_700_000_000_000 + version });
    await producer.send({ topic: `${prefix}in`, acks: -1, messages: [{ key, value, headers: { [HEADERS.sourceVersion]: String(version), [HEADERS.occurredAt]: String(1_700_000_000_000 + version) } }] });
    await producer.disconnect();
  }

  it('applies the dead records once the cause is fixed, and a superseded one changes nothing', async () => {
    const target = new Target();
    target.refused.add('a');
    target.refused.add('b');
    const retry = { delaysMs: delays };
    const common: StageRunnerOptions = { kafka, codec, logger: createLogger({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), topicPrefix: prefix, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, retry };
    const stage = target.stage() as StageDefinition;
    // As `run` wires them: the stage reads its due topic, the retry consumer forwards to it.
    runners.push(new StageRunner(withRetryDue(stage), common), new StageRunner(createRetryStage(stage, retry), { ...common, ...retryConsumerOptions(retry) }));
    await Promise.all(runners.map((r) => r.start()));

    await publish('a', 1);
    await publish('b', 1);
    await waitUntil('both records dead-lettered', async () => (await readAll(kafka, `${prefix}sink.dlq`)).length === 2);
    // b moves on to version 2 meanwhile: its dead version 1 is superseded.
    target.refused.delete('b');
    await publish('b', 2);
    await waitUntil('b version 2 applied', () => target.applied.get('b') === 2n);

    // The cause is fixed.
    target.refused.delete('a');
    const replayer = new DlqReplayer(kafka, { topicPrefix: prefix, retryDelaysMs: delays, groups: ['sink'], terminalGroups: ['sink'] });
    const report = await replayer.replay({ groups: ['sink'] });
    expect(report.groups).toEqual([{ group: 'sink', topic: `${prefix}sink.dlq`, exists: true, replayed: 2, byCode: { validation_failed: 2 }, skipped: { alreadyReplayed: 0, filtered: 0, notReplayable: 0 } }]);

    await waitUntil('a applied from the replay', () => target.applied.get('a') === 1n);
    await waitUntil('b version 1 dropped as stale', () => target.stale >= 1);
    expect(target.applied.get('b')).toBe(2n);
    expect(await readAll(kafka, `${prefix}sink.dlq`)).toHaveLength(2);

    const again = await replayer.replay({ groups: ['sink'] });
    expect(again.groups[0]).toMatchObject({ replayed: 0, skipped: { alreadyReplayed: 2 } });
  });
});
