import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestCase } from 'vitest/node';
import FaultSummaryReporter from '../../faults/summary-reporter.js';
import type { FaultRow } from '../../faults/support/summary.js';

const row = (test: string): FaultRow => ({ test, events: 10, faults: 'a fault', lost: 0, stale: 0, duplicates: 0, recoverySeconds: 1 });

/** The parts of a finished vitest test case the reporter reads. */
function finished(fullName: string, state: string, fault?: FaultRow): TestCase {
  return { fullName, result: () => ({ state }), meta: () => ({ fault }) } as unknown as TestCase;
}

function summary(cases: TestCase[]): string {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const reporter = new FaultSummaryReporter();
  for (const c of cases) reporter.onTestCaseResult(c);
  reporter.onTestRunEnd();
  spy.mockRestore();
  return lines.join('\n');
}

describe('the fault suite summary', () => {
  afterEach(() => vi.restoreAllMocks());

  it('counts every test that ran, marks a failed row and names a test that failed before its row', () => {
    const text = summary([
      finished('kills > SIGKILL', 'passed', row('1. SIGKILL 20×')),
      finished('kills > SIGTERM', 'failed'),
      finished('shrink > 40 to 12', 'failed', row('11. shrink')),
      finished('skipped one', 'skipped'),
    ]);
    expect(text).toContain('Fault suite summary (1 of 3 tests passed)');
    expect(text).toContain('| 1. SIGKILL 20× ');
    expect(text).toContain('| 11. shrink (FAILED) ');
    expect(text).toMatch(/Failed before recording a row:\n- kills > SIGTERM$/);
    expect(text).not.toContain('skipped one');
  });

  it('says all passed when they did, with no list of failures', () => {
    const text = summary([finished('a', 'passed', row('a')), finished('b', 'passed', row('b'))]);
    expect(text).toContain('(2 of 2 tests passed)');
    expect(text).not.toContain('FAILED');
    expect(text).not.toContain('Failed before');
  });
});
