import type { Reporter, TestCase } from 'vitest/node';
import { formatTable, type FaultRow } from './support/summary.js';

/**
 * Prints the fault suite's summary after the run: how many of the tests that ran passed, the table
 * (a row per test that recorded one, marked when its test failed), and the tests that failed
 * before they could record theirs, so that a failure never hides behind rows that all passed.
 */
export default class FaultSummaryReporter implements Reporter {
  private readonly results: Array<{ name: string; state: string; row?: FaultRow }> = [];

  onTestCaseResult(testCase: TestCase): void {
    const state = testCase.result().state;
    if (state === 'skipped' || state === 'pending') return;
    this.results.push({ name: testCase.fullName, state, row: testCase.meta().fault });
  }

  onTestRunEnd(): void {
    if (this.results.length === 0) return;
    const passed = this.results.filter((r) => r.state === 'passed').length;
    console.log(`\nFault suite summary (${passed} of ${this.results.length} tests passed)\n`);
    // A test can fail after recording its row (a check after the count): its row says so.
    const rows = this.results.flatMap((r) => (r.row ? [{ ...r.row, test: r.state === 'passed' ? r.row.test : `${r.row.test} (FAILED)` }] : []));
    if (rows.length > 0) console.log(formatTable(rows));
    const unrecorded = this.results.filter((r) => !r.row && r.state !== 'passed');
    if (unrecorded.length > 0) {
      console.log(`\nFailed before recording a row:\n${unrecorded.map((r) => `- ${r.name}`).join('\n')}`);
    }
  }
}
