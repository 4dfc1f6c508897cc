import { describe, expect, it } from 'vitest';
import { statusVerdict, verdictLine } from '../../../src/cli/status-verdict.js';
import type { PipelineStatus, StageStatus } from '../../../src/cli/status-view.js';

const DAY = 86_400_000;
const stage = (name: string, fields: Partial<StageStatus> = {}): StageStatus => ({ stage: name, group: `p.${name}`, lag: 0, dlq: 0, oldestUnprocessedMs: null, deleteRetentionMs: 7 * DAY, ...fields });
const status = (stages: StageStatus[], extra: Partial<PipelineStatus> = {}): PipelineStatus => ({ stages, circuits: [{ target: 'lancedb:t', state: 'closed', failures: 0, waitMs: 0, probes: 0 }], ...extra });

describe('the status verdict', () => {
  it('is in sync with no lag, no dead letter and closed circuits', () => {
    const verdict = statusVerdict(status([stage('map'), stage('store')]));
    expect(verdict).toEqual({ state: 'in sync', reasons: [], notes: [] });
    expect(verdictLine(verdict)).toBe('in sync');
  });

  it('is behind with lag, naming the stage, its oldest record and its rates', () => {
    const verdict = statusVerdict(status([stage('map'), stage('embed', { lag: 40, oldestUnprocessedMs: 130_000, inPerSecond: 2, donePerSecond: 0.5 })]));
    expect(verdict.state).toBe('behind');
    expect(verdict.reasons).toEqual(['embed lag 40, oldest 2m 10s, in 2.0/s, done 0.5/s']);
  });

  it('warns when the oldest unprocessed record passes half of delete.retention.ms, and fails past it', () => {
    const risky = statusVerdict(status([stage('map', { lag: 1, oldestUnprocessedMs: 4 * DAY })]));
    expect(risky.state).toBe('behind');
    expect(risky.reasons[0]).toBe('map: oldest unprocessed record is 4d old, delete.retention.ms is 7d: it risks missing deletes');
    const lost = statusVerdict(status([stage('map', { lag: 1, oldestUnprocessedMs: 8 * DAY })]));
    expect(lost.state).toBe('failing');
    expect(lost.reasons[0]).toMatch(/^map: oldest unprocessed record is 8d old, over delete\.retention\.ms \(7d\): deletes may have been missed$/);
    // No compacted input, no tombstone to miss.
    expect(statusVerdict(status([stage('store.retry', { lag: 1, oldestUnprocessedMs: 8 * DAY, deleteRetentionMs: null, dlq: undefined })])).state).toBe('behind');
  });

  it('fails on dead letters, naming the commonest code, and on an open circuit, most urgent first', () => {
    const verdict = statusVerdict(
      status([stage('map', { dlq: 3 }), stage('store', { lag: 2 })], {
        dlqByReason: [
          { group: 'map', code: 'schema_mismatch', errorClass: 'permanent', count: 1, lastMessage: '' },
          { group: 'map', code: 'not_wire_format', errorClass: 'permanent', count: 2, lastMessage: '' },
        ],
        circuits: [{ target: 'qdrant:q/c', state: 'open', failures: 5, waitMs: 90_000, probes: 0 }],
      }),
    );
    expect(verdict.state).toBe('failing');
    expect(verdict.reasons).toEqual(['circuit qdrant:q/c is open (half-open in 1m 30s)', '3 dead letters in map.dlq (not_wire_format, 2 codes)', 'store lag 2']);
  });

  it('fails on missing topics, and keeps what could not be read as notes', () => {
    const verdict = statusVerdict(status([stage('store')], { missingTopics: ['store.retry.due'], storeProblem: 'cannot connect', problems: ['activity not read from Redis: timeout'] }));
    expect(verdict.state).toBe('failing');
    expect(verdict.reasons).toEqual(['missing topics store.retry.due: run `ragsync topics apply`']);
    expect(verdict.notes).toEqual(['store not counted: cannot connect', 'activity not read from Redis: timeout']);
  });
});
