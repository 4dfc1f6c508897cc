import type { Reporter, TestCase } from 'vitest/node';
import { formatTable, type FaultRow } from './support/summary.js';

/** Prints the fault suite's summary table (a row per test that recorded one) after the run. */
export default class FaultSummaryReporter implements Reporter {
  private readonly rows: Array<FaultRow & { state: string }> = [];

  onTestCaseResult(testCase: TestCase): void {
    const row = testCase.meta().fault;
    if (row) this.rows.push({ ...row, state: testCase.result().state });
  }

  onTestRunEnd(): void {
    if (this.rows.length === 0) return;
    console.log(`\nFault suite summary (${this.rows.filter((r) => r.state === 'passed').length} of ${this.rows.length} passed)\n`);
    console.log(formatTable(this.rows));
  }
}
