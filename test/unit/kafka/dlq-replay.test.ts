import type { RecordMetadata } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { HEADERS } from '../../../src/core/records.js';
import type { DeadRecord } from '../../../src/kafka/dlq-reader.js';
import { DlqUsageError } from '../../../src/kafka/dlq-reader.js';
import { chooseReplay, matchesFilters, offsetsOf, parseReplayFilters, partitionOf, ReplayTally, replayRetryMessage } from '../../../src/kafka/dlq-replay.js';

const dead = (over: Partial<DeadRecord> = {}): DeadRecord => ({
  ref: 'store:0:7',
  topic: 'ragsync.store.dlq',
  partition: 0,
  offset: '7',
  timestamp: 1_000,
  key: 'acme/product/42/1',
  headers: { [HEADERS.origTopic]: 'ragsync.vectors', [HEADERS.origPartition]: '2', [HEADERS.origOffset]: '99', [HEADERS.attempt]: '4', [HEADERS.errorCode]: 'invalid_document' },
  value: Buffer.from('v'),
  stage: 'store',
  errorClass: 'permanent',
  errorCode: 'invalid_document',
  errorMessage: '400',
  attempt: 4,
  firstFailureAt: '1970-01-01T00:00:01.000Z',
  original: { topic: 'ragsync.vectors', partition: 2, offset: '99' },
  ...over,
});
const none = { codes: [], keys: [] };

describe('replay filters', () => {
  it('reads code= and key=, each repeatable', () => {
    expect(parseReplayFilters(['code=invalid_document', 'key=acme/', 'code=target_unavailable', 'key=a=b'])).toEqual({ codes: ['invalid_document', 'target_unavailable'], keys: ['acme/', 'a=b'] });
  });

  it.each(['code', 'code=', 'stage=store', 'Code=x'])('refuses "%s" as a usage error naming the forms', (text) => {
    expect(() => parseReplayFilters([text])).toThrow(DlqUsageError);
    expect(() => parseReplayFilters([text])).toThrow('expected code=<error code> or key=<part of the key>');
  });

  it('matches any value of a kind, and both kinds when both are given', () => {
    const record = dead();
    expect(matchesFilters(record, none)).toBe(true);
    expect(matchesFilters(record, { codes: ['x', 'invalid_document'], keys: [] })).toBe(true);
    expect(matchesFilters(record, { codes: ['target_unavailable'], keys: [] })).toBe(false);
    expect(matchesFilters(record, { codes: ['invalid_document'], keys: ['/42/'] })).toBe(true);
    expect(matchesFilters(record, { codes: ['invalid_document'], keys: ['/43/'] })).toBe(false);
    expect(matchesFilters(dead({ key: null }), { codes: [], keys: ['a'] })).toBe(false);
  });
});

describe('what replay does with a record', () => {
  const base = { terminal: true, mark: undefined, filters: none, again: false };

  it('sends a terminal record with its value through the first retry tier', () => {
    expect(chooseReplay(dead(), base)).toEqual({ action: 'replay', path: 'retry' });
  });

  it('re-processes an intermediate record from its key\'s current input, value or not', () => {
    expect(chooseReplay(dead(), { ...base, terminal: false })).toEqual({ action: 'replay', path: 'input' });
    expect(chooseReplay(dead({ value: null }), { ...base, terminal: false })).toEqual({ action: 'replay', path: 'input' });
  });

  it('replays a terminal record stored without its value from the current input, and says so', () => {
    const choice = chooseReplay(dead({ value: null }), base);
    expect(choice).toMatchObject({ action: 'replay', path: 'input' });
    expect(choice.action === 'replay' && choice.note).toBe("stored without its value (too large to copy into the DLQ, or a delete): replayed from the key's current input in ragsync.vectors");
  });

  it('skips a record replayed before unless --again, saying when and where', () => {
    const mark = { state: 'replayed' as const, at: '2024-05-01T00:00:00.000Z', to: { topic: 't.retry.5m', partition: 1, offset: '3', via: 'retry' as const } };
    expect(chooseReplay(dead(), { ...base, mark })).toEqual({ action: 'skip', reason: 'already-replayed', why: 'replayed 2024-05-01T00:00:00.000Z to t.retry.5m partition 1 offset 3 (--again replays it once more)' });
    expect(chooseReplay(dead(), { ...base, mark, again: true })).toEqual({ action: 'replay', path: 'retry' });
  });

  it('skips a filtered record before anything else', () => {
    expect(chooseReplay(dead(), { ...base, filters: { codes: ['other'], keys: [] } })).toMatchObject({ action: 'skip', reason: 'filtered' });
  });

  it('names why a record cannot be replayed', () => {
    const unknown = 'no valid ragsync-original-topic/ragsync-original-partition/ragsync-original-offset headers: its input is unknown';
    expect(chooseReplay(dead({ original: undefined }), { ...base, terminal: false })).toEqual({ action: 'skip', reason: 'not-replayable', why: unknown });
    // The retry consumer reads a retry record as one of its original topic: it needs them too.
    expect(chooseReplay(dead({ original: undefined }), base)).toEqual({ action: 'skip', reason: 'not-replayable', why: unknown });
    expect(chooseReplay(dead({ original: { topic: 'ragsync.vectors', partition: 2, offset: '?' } }), base)).toMatchObject({ reason: 'not-replayable' });
    expect(chooseReplay(dead({ original: undefined, value: null }), base)).toMatchObject({ why: `stored without its value, and ${unknown}` });
    expect(chooseReplay(dead({ key: null }), { ...base, terminal: false })).toMatchObject({ reason: 'not-replayable', why: 'no key: the current input of its key cannot be found' });
  });
});

describe('a replayed record for the first retry tier', () => {
  it('is due now in tier 0 with one failure counted, names its DLQ record and keeps where it came from', () => {
    const record = dead();
    const message = replayRetryMessage(record, record.ref, Date.UTC(2024, 4, 1));
    expect(message.key).toBe('acme/product/42/1');
    expect(message.value).toEqual(Buffer.from('v'));
    expect(message.headers).toEqual({
      ...record.headers,
      [HEADERS.dueAt]: '2024-05-01T00:00:00.000Z',
      [HEADERS.retryTier]: '0',
      [HEADERS.attempt]: '1',
      [HEADERS.replayOf]: 'store:0:7',
    });
  });
});

describe('where replayed records land', () => {
  it('uses the one partitioner (murmur2 like the Java client) for the retry topic', () => {
    // Known murmur2 placements of the Java client's default partitioner.
    const spread = new Set(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => partitionOf(Buffer.from(k), 6)));
    expect(spread.size).toBeGreaterThan(2);
    expect(partitionOf('acme/product/42/1', 6)).toBe(partitionOf(Buffer.from('acme/product/42/1'), 6));
    expect(partitionOf('k', 1)).toBe(0);
  });

  it('gives each message of a produce call its offset from its partition\'s base offset', () => {
    const metadata = [
      { topicName: 't', partition: 1, errorCode: 0, baseOffset: '40' },
      { topicName: 't', partition: 0, errorCode: 0, baseOffset: '7' },
    ] as RecordMetadata[];
    expect(offsetsOf([0, 1, 0, 1, 1], metadata)).toEqual(['7', '40', '8', '41', '42']);
    expect(offsetsOf([2], metadata)).toEqual(['?']);
  });
});

describe('the replay tally', () => {
  it('counts per group and code, keeps what is not replayable with its reason', () => {
    const tally = new ReplayTally(false);
    tally.replay('s.dlq', { ref: 'store:0:1', group: 'store', key: 'k', code: 'a', path: 'retry' });
    tally.replay('s.dlq', { ref: 'store:0:2', group: 'store', key: 'k', code: 'a', path: 'retry' });
    tally.skip('s.dlq', dead({ ref: 'store:0:3' }), 'store', 'already-replayed', 'x');
    tally.skip('s.dlq', dead({ ref: 'store:0:4' }), 'store', 'filtered', 'x');
    tally.skip('s.dlq', dead({ ref: 'store:0:5' }), 'store', 'not-replayable', 'no key');
    const result = tally.result();
    expect(result.groups).toEqual([{ group: 'store', topic: 's.dlq', exists: true, replayed: 2, byCode: { a: 2 }, skipped: { alreadyReplayed: 1, filtered: 1, notReplayable: 1 } }]);
    expect(result.notReplayable).toEqual([{ ref: 'store:0:5', group: 'store', key: 'acme/product/42/1', code: 'invalid_document', reason: 'not-replayable', why: 'no key' }]);
    expect(result.dryRun).toBe(false);
  });
});
