import { describe, expect, it } from 'vitest';
import { decodeValue, formatPurge, formatRecord, formatReplay, formatSummaries, parseBefore, printable, printableHeaders, recordView, secretScrubber } from '../../../src/cli/commands/dlq.js';
import type { DeadRecord, DlqGroupSummary, PurgePlan } from '../../../src/kafka/dlq-reader.js';
import type { ReplayReport } from '../../../src/kafka/dlq-replay.js';
import { DlqUsageError } from '../../../src/kafka/dlq-reader.js';

const scrub = secretScrubber(['sk-live-0123456789', 'tenant-secret', 'abc', undefined]);

describe('secrets in DLQ output', () => {
  it('masks every configured secret and any user:password in a URL', () => {
    expect(scrub('key sk-live-0123456789 refused; tenant-secret; see https://bob:hunter2@api.example/x')).toBe('key *** refused; ***; see https://***@api.example/x');
  });

  it('leaves secrets too short to be told apart from words alone', () => {
    expect(scrub('abc')).toBe('abc');
  });

  it('masks headers and fields named like credentials, and prints bytes and bigints', () => {
    expect(printableHeaders({ authorization: 'Bearer x', 'X-Magento-Webhook-Signature': 'sha256=1', 'ragsync-stage': 'store' }, scrub)).toEqual({
      authorization: '[redacted]',
      'X-Magento-Webhook-Signature': '[redacted]',
      'ragsync-stage': 'store',
    });
    expect(printable({ api_key: 'k', nested: [{ password: 'p', text: 'uses sk-live-0123456789' }], version: 12n, vector: Buffer.alloc(12), empty: { token: null } }, scrub)).toEqual({
      api_key: '[redacted]',
      nested: [{ password: '[redacted]', text: 'uses ***' }],
      version: '12',
      vector: '<12 bytes>',
      empty: { token: null },
    });
  });
});

describe('--before', () => {
  it.each([
    ['2024-05-01', Date.UTC(2024, 4, 1)],
    ['2024-05-01T12:30', Date.UTC(2024, 4, 1, 12, 30)],
    ['2024-05-01T12:30:15Z', Date.UTC(2024, 4, 1, 12, 30, 15)],
    ['2024-05-01T12:30:15.250+02:00', Date.UTC(2024, 4, 1, 10, 30, 15, 250)],
  ])('reads %s (UTC unless a zone is given)', (text, ms) => {
    expect(parseBefore(text)).toBe(ms);
  });

  it.each(['yesterday', '1714564800000', '2024-13-45', '05/01/2024'])('refuses %s as a usage error', (text) => {
    expect(() => parseBefore(text)).toThrow(DlqUsageError);
  });
});

const record: DeadRecord = {
  ref: 'store:0:7',
  topic: 'ragsync.store.dlq',
  partition: 0,
  offset: '7',
  timestamp: Date.UTC(2024, 4, 1),
  key: 'acme/product/1/1',
  headers: { 'ragsync-error-code': 'invalid_document', authorization: 'Bearer hidden' },
  value: null,
  stage: 'store',
  errorClass: 'permanent',
  errorCode: 'invalid_document',
  errorMessage: '400 with key sk-live-0123456789',
  attempt: 1,
  firstFailureAt: '2024-05-01T00:00:00.000Z',
  original: { topic: 'ragsync.vectors', partition: 3, offset: '99' },
};
const noRegistry = () => {
  throw new Error('the registry must not be asked for a value that is not in the wire format');
};

describe('a record value', () => {
  it.each([
    [null, { encoding: 'none' }],
    [Buffer.from('{"sku":"42"}'), { encoding: 'json', value: { sku: '42' } }],
    [Buffer.from('plain words'), { encoding: 'text', value: 'plain words' }],
    [Buffer.from([0xff, 0xfe, 0x01]), { encoding: 'bytes', bytes: 3 }],
  ])('%j decodes without the registry unless it is in the wire format', async (value, expected) => {
    expect(await decodeValue({ ...record, value }, noRegistry as never)).toMatchObject(expected);
  });

  it('falls back to bytes with the reason when the registry cannot decode it', async () => {
    const serde = { decode: async () => Promise.reject(new Error('schema id 9 is not known')) };
    const view = await decodeValue({ ...record, value: Buffer.from([0, 0, 0, 0, 9, 0xff, 0x01]) }, () => serde as never);
    expect(view).toEqual({ encoding: 'bytes', bytes: 7, note: 'not decodable as Avro: schema id 9 is not known' });
  });
});

describe('the text output', () => {
  it('shows one record with its error, input and headers, secrets masked', async () => {
    const view = recordView(record, await decodeValue(record, noRegistry as never), scrub);
    expect(formatRecord(view)).toEqual([
      'store:0:7  (ragsync.store.dlq partition 0 offset 7)',
      'dead-lettered  2024-05-01T00:00:00.000Z',
      'key            acme/product/1/1',
      'stage          store',
      'error          permanent invalid_document: 400 with key ***',
      'attempts       1',
      'first failure  2024-05-01T00:00:00.000Z',
      'input          ragsync.vectors partition 3 offset 99',
      'replayed       no',
      'headers',
      '  ragsync-error-code: invalid_document',
      '  authorization: [redacted]',
      'value (none)',
      '  no value: the record was a delete, or too large to copy into the DLQ (headers only)',
    ]);
  });

  it('lists groups with counts by code and the newest records', () => {
    const summaries: DlqGroupSummary[] = [
      { group: 'map', topic: 'ragsync.map.dlq', exists: false, records: 0, pending: 0, replayed: 0, purged: 0, byCode: [], samples: [] },
      { group: 'chunk', topic: 'ragsync.chunk.dlq', exists: true, records: 0, pending: 0, replayed: 0, purged: 0, byCode: [], samples: [] },
      { group: 'embed', topic: 'ragsync.embed.dlq', exists: true, records: 2, pending: 0, replayed: 2, purged: 4, byCode: [], samples: [] },
      {
        group: 'store',
        topic: 'ragsync.store.dlq',
        exists: true,
        records: 4,
        pending: 3,
        replayed: 1,
        purged: 0,
        oldest: '2024-05-01T00:00:00.000Z',
        newest: '2024-05-02T00:00:00.000Z',
        byCode: [
          { code: 'invalid_document', errorClass: 'permanent', count: 2, stages: ['store'], lastMessage: 'key sk-live-0123456789 refused', lastRef: 'store:0:1' },
          { code: 'target_unavailable', errorClass: 'retryable', count: 1, stages: ['store'], lastMessage: '503', lastRef: 'store:1:0' },
        ],
        samples: [{ ref: 'store:0:1', key: 'k1', code: 'invalid_document', at: '2024-05-02T00:00:00.000Z' }],
      },
    ];
    expect(formatSummaries(summaries, scrub)).toEqual([
      'map    ragsync.map.dlq    no such topic (run `ragsync topics apply`)',
      'chunk  ragsync.chunk.dlq  empty',
      'embed  ragsync.embed.dlq  nothing to handle (2 replayed, 4 purged)',
      'store  ragsync.store.dlq  3 to handle (1 replayed), dead-lettered 2024-05-01T00:00:00.000Z … 2024-05-02T00:00:00.000Z',
      '        2  permanent  invalid_document   [store]  last store:0:1: key *** refused',
      '        1  retryable  target_unavailable [store]  last store:1:0: 503',
      '  newest:',
      '    store:0:1  2024-05-02T00:00:00.000Z  invalid_document  key k1',
    ]);
  });

  it('says what a purge would delete, and what it deleted', () => {
    const plan: PurgePlan = {
      group: 'store',
      topic: 'ragsync.store.dlq',
      before: '2024-05-01T00:00:00.000Z',
      partitions: [
        { partition: 0, low: '10', cut: '15', records: 5 },
        { partition: 1, low: '3', cut: '3', records: 0 },
      ],
      records: 5,
    };
    expect(formatPurge(plan)).toEqual([
      'ragsync.store.dlq: records dead-lettered before 2024-05-01T00:00:00.000Z',
      '  partition 0: offsets 10 to 14 (5 records)',
      '  partition 1: nothing older',
      'would delete 5 records (dry run: nothing deleted)',
    ]);
    const result = { plan, deleted: 5, partitions: [{ partition: 0, lowBefore: '10', lowAfter: '15', deleted: 5 }, { partition: 1, lowBefore: '3', lowAfter: '3', deleted: 0 }] };
    expect(formatPurge(plan, result).slice(3)).toEqual(['deleted 5 records', '  partition 0 now starts at offset 15']);
  });
});

describe('the replay output', () => {
  it('says when and where a record was replayed', async () => {
    const mark = { state: 'replayed' as const, at: '2024-05-03T00:00:00.000Z', to: { topic: 'ragsync.store.retry.5m', partition: 1, offset: '12', via: 'retry' as const } };
    const view = recordView(record, await decodeValue(record, noRegistry as never), scrub, mark);
    expect(view.replayed).toEqual({ at: mark.at, to: mark.to });
    expect(formatRecord(view)).toContain('replayed       2024-05-03T00:00:00.000Z through its first retry tier, to ragsync.store.retry.5m partition 1 offset 12');
  });

  const report: ReplayReport = {
    dryRun: false,
    groups: [
      { group: 'map', topic: 'ragsync.map.dlq', exists: false, replayed: 0, byCode: {}, skipped: { alreadyReplayed: 0, filtered: 0, notReplayable: 0 } },
      { group: 'chunk', topic: 'ragsync.chunk.dlq', exists: true, replayed: 1, byCode: { invalid_document: 1 }, skipped: { alreadyReplayed: 0, filtered: 0, notReplayable: 1 } },
      { group: 'store', topic: 'ragsync.store.dlq', exists: true, replayed: 3, byCode: { target_unavailable: 1, invalid_document: 2 }, skipped: { alreadyReplayed: 4, filtered: 1, notReplayable: 0 } },
    ],
    replayed: [
      { ref: 'chunk:0:3', group: 'chunk', key: 'acme/product/1/1', code: 'invalid_document', path: 'input', to: { topic: 'ragsync.documents', partition: 0, offset: '40' }, source: { topic: 'ragsync.documents', partition: 0, offset: '9', tombstone: false } },
      { ref: 'store:0:1', group: 'store', key: 'k1', code: 'invalid_document', path: 'retry', to: { topic: 'ragsync.store.retry.5m', partition: 0, offset: '7' } },
      { ref: 'store:0:2', group: 'store', key: 'k2', code: 'invalid_document', path: 'input', note: "stored without its value (too large to copy into the DLQ, or a delete): replayed from the key's current input in ragsync.vectors" },
      { ref: 'store:1:0', group: 'store', key: 'k3', code: 'target_unavailable', path: 'retry' },
    ],
    notReplayable: [{ ref: 'chunk:0:4', group: 'chunk', key: 'sk-live-0123456789', code: 'invalid_document', reason: 'not-replayable', why: 'no key' }],
  };

  it('sums up per group and code, with what was skipped and why, and each record that needs a person', () => {
    expect(formatReplay(report, scrub)).toEqual([
      "store:0:2  stored without its value (too large to copy into the DLQ, or a delete): replayed from the key's current input in ragsync.vectors",
      'chunk:0:4  invalid_document  key ***: not replayable: no key',
      '',
      'map: ragsync.map.dlq does not exist (run `ragsync topics apply`)',
      'chunk: replayed 1 record (1 invalid_document); skipped 1 not replayable',
      'store: replayed 3 records (2 invalid_document, 1 target_unavailable); skipped 4 replayed before (--again to replay them once more), 1 left out by --filter',
    ]);
  });

  it('lists what a dry run would replay, and says that nothing changed', () => {
    const lines = formatReplay({ ...report, dryRun: true, notReplayable: [] }, scrub);
    expect(lines.slice(0, 2)).toEqual([
      "chunk:0:3  invalid_document  key acme/product/1/1: would replay from the key's current input (current input: ragsync.documents partition 0 offset 9)",
      'store:0:1  invalid_document  key k1: would replay through its first retry tier',
    ]);
    expect(lines).toContain('store: would replay 3 records (2 invalid_document, 1 target_unavailable); skipped 4 replayed before (--again to replay them once more), 1 left out by --filter');
    expect(lines.at(-1)).toBe('dry run: nothing was produced and nothing marked');
  });
});
