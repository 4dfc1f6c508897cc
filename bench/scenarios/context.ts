import type { EmbeddingServer } from '../embedding-server.js';
import type { Figure } from '../report/results.js';

/** What every scenario of a run shares: its size, the embedding endpoint, the raw figures. */
export interface BenchContext {
  /** Small sizes: every scenario in under 3 minutes in all, so the harness is exercised in CI. */
  quick: boolean;
  /** Arguments left after `--scenario` and `--quick`. */
  args: string[];
  say(line: string): void;
  endpoint: EmbeddingServer;
  /** Every raw figure, by scenario; written to the JSON as it is. */
  raw: Record<string, unknown>;
  /** A measurement several scenarios compare with (the limits, the pipeline run), made once per run. */
  once<T>(key: string, measure: () => Promise<T>): Promise<T>;
}

export interface Scenario {
  name: string;
  /** One line for `--help` and the table. */
  about: string;
  run(context: BenchContext): Promise<Figure[]>;
}

/** A figure of a scenario that could not run, with the reason. */
export function notRun(scenario: string, name: string, unit: string, reason: string, target?: Figure['target']): Figure {
  return { scenario, name, unit, status: `not run: ${reason}`, ...(target ? { target } : {}) };
}
