import { describe, expect, it } from 'vitest';
import { earliest, formatRetryStatus, formatWait, partitionDepth, type GroupRetryStatus } from '../../../src/kafka/retry-status.js';

describe('the depth of a retry partition', () => {
  it('is the end minus the committed offset', () => {
    expect(partitionDepth('0', '10', '4')).toEqual({ start: 4n, depth: 6 });
    expect(partitionDepth('0', '10', '10')).toEqual({ start: 10n, depth: 0 });
  });

  it('is the whole partition without a commit, or when retention removed the committed offset', () => {
    expect(partitionDepth('3', '10', null)).toEqual({ start: 3n, depth: 7 });
    expect(partitionDepth('5', '10', '2')).toEqual({ start: 5n, depth: 5 });
  });
});

describe('times', () => {
  it('takes the earliest time, skipping missing and unreadable ones', () => {
    expect(earliest(['2024-05-02T00:00:00.000Z', undefined, 'soon', '2024-05-01T12:00:00Z'])).toBe('2024-05-01T12:00:00.000Z');
    expect(earliest([undefined])).toBeUndefined();
  });

  it.each([
    [12_000, '12s'],
    [250_000, '4m 10s'],
    [300_000, '5m'],
    [7_500_000, '2h 5m'],
    [-90_000, '1m 30s'],
  ])('writes %i ms as %s', (ms, text) => {
    expect(formatWait(ms)).toBe(text);
  });
});

describe('the retry status for people', () => {
  const now = Date.UTC(2024, 4, 1, 12);
  const tier = (t: number, delayMs: number, over: object = {}) => ({ tier: t, delayMs, topic: `ragsync.store.retry.${delayMs / 60_000}m`, exists: true, depth: 0, partitions: [], ...over });

  it('shows depth, next due time and oldest failure per tier', () => {
    const status: GroupRetryStatus[] = [
      {
        group: 'store',
        consumerGroup: 'ragsync.store.retry',
        tiers: [
          tier(0, 300_000, { depth: 3, nextDueAt: '2024-05-01T12:04:10.000Z', oldestFirstFailureAt: '2024-05-01T11:59:00.000Z' }),
          tier(1, 900_000, { depth: 1, nextDueAt: '2024-05-01T11:58:00.000Z' }),
          tier(2, 3_600_000),
          tier(3, 7_200_000, { exists: false }),
        ],
      },
    ];
    expect(formatRetryStatus(status, now)).toEqual([
      'store (retry consumer group ragsync.store.retry): 4 records waiting',
      '  tier 0  5m     ragsync.store.retry.5m    depth 3, next due 2024-05-01T12:04:10.000Z (in 4m 10s), failing since 2024-05-01T11:59:00.000Z',
      '  tier 1  15m    ragsync.store.retry.15m   depth 1, next due 2024-05-01T11:58:00.000Z (overdue by 2m)',
      '  tier 2  60m    ragsync.store.retry.60m   empty',
      '  tier 3  120m   ragsync.store.retry.120m  no such topic (run `ragsync topics apply`)',
    ]);
  });

  it('says in one line that no retry topic exists, and what to run', () => {
    const status: GroupRetryStatus[] = [{ group: 'store', consumerGroup: 'g', tiers: [tier(0, 300_000, { exists: false }), tier(1, 900_000, { exists: false })] }];
    expect(formatRetryStatus(status, now)).toEqual(['no retry topics: ragsync.store.retry.5m, ragsync.store.retry.15m do not exist (run `ragsync topics apply`)']);
  });
});
