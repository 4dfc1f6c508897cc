import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatNumber, met, percentile, renderTable, writeResults, type BenchResults } from '../../../bench/report/results.js';

const machine = { cores: 2, memoryBytes: 8 * 2 ** 30, cpuModel: 'Test CPU', loadAtStart: [1, 2, 3], node: '20.19.0', ragsync: '0.1.0', kafka: '3.9.1', platform: 'linux' };

function results(): BenchResults {
  return {
    date: '2026-12-03',
    scenario: 'all',
    quick: true,
    startedAt: '2026-12-03T10:00:00Z',
    machine,
    configuration: { partitions: 6 },
    figures: [
      { scenario: 'pipeline', name: 'events/s end to end', value: 2500, unit: '/s', target: { op: '>=', value: 2000 }, comparison: { name: 'baseline', value: 125 }, status: 'ok' },
      { scenario: 'latency', name: 'p99 at 100/s', value: 1.5, unit: 's', target: { op: '<=', value: 1 }, status: 'ok', note: 'the machine was loaded' },
      { scenario: 'resync', name: 'full resync cold', unit: 's', status: 'not run: the command is missing' },
    ],
    raw: { pipeline: { rates: [1, 2] } },
  };
}

describe('the bench results', () => {
  it('decide a target from its direction', () => {
    expect(met({ scenario: 's', name: 'n', value: 3, unit: '', target: { op: '>=', value: 2 }, status: 'ok' })).toBe(true);
    expect(met({ scenario: 's', name: 'n', value: 3, unit: '', target: { op: '<=', value: 2 }, status: 'ok' })).toBe(false);
    expect(met({ scenario: 's', name: 'n', unit: '', target: { op: '<=', value: 2 }, status: 'not run' })).toBeUndefined();
    const ratio = { scenario: 's', name: 'n', value: 300, unit: '/s', comparison: { name: 'baseline', value: 20 }, status: 'ok' };
    expect(met({ ...ratio, target: { op: '>=', value: 10, ratio: true } })).toBe(true);
    expect(met({ ...ratio, target: { op: '>=', value: 50, ratio: true } })).toBe(false);
    expect(renderTable({ ...results(), figures: [{ ...ratio, target: { op: '>=', value: 10, ratio: true } }] })).toContain('| 300 /s | ≥ 10× baseline | yes | 15× baseline (20) |');
  });

  it('show every figure next to its target and its ratio to the comparison', () => {
    const table = renderTable(results());
    expect(table).toContain('| pipeline | events/s end to end | 2,500 /s | ≥ 2,000 /s | yes | 20× baseline (125) | ok |');
    expect(table).toContain('| latency | p99 at 100/s | 1.5 s | ≤ 1 s | **no** |  | ok: the machine was loaded |');
    expect(table).toContain('| resync | full resync cold | — |  |  |  | not run: the command is missing |');
    expect(table).toContain('load 1.0 2.0 3.0 at the start');
  });

  it('write the raw figures and the table side by side', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-results-'));
    try {
      const paths = writeResults(dir, results());
      expect(paths.json).toBe(join(dir, '2026-12-03-all-quick.json'));
      const written = JSON.parse(readFileSync(paths.json, 'utf8')) as BenchResults;
      expect(written.machine.cpuModel).toBe('Test CPU');
      expect(written.raw).toEqual({ pipeline: { rates: [1, 2] } });
      expect(readFileSync(paths.markdown, 'utf8')).toBe(renderTable(results()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('format numbers and percentiles for reading', () => {
    expect(formatNumber(25_000.4)).toBe('25,000');
    expect(formatNumber(0.01234)).toBe('0.012');
    expect(percentile([5, 1, 4, 2, 3], 99)).toBe(5);
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
    expect(percentile([], 50)).toBeUndefined();
  });
});
