/**
 * What one `npm run bench` run measured, as written to `bench/results/<date>-<scenario>.json`, and
 * the markdown table beside it (`.md`, also printed). Pure: no I/O but `writeResults`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One line of the table: a measured figure, its target and what it is compared with. */
export interface Figure {
  scenario: string;
  /** What is measured, e.g. `events/s end to end`. */
  name: string;
  /** Undefined when the scenario did not run or failed (then `status` says why). */
  value?: number;
  unit: string;
  /**
   * E.g. `≥ 2,000/s`; met decides whether the figure passed. With `ratio`, the target applies to
   * value ÷ comparison (e.g. `≥ 10×` the baseline).
   */
  target?: { op: '>=' | '<='; value: number; unit?: string; ratio?: boolean };
  /** A figure of the same run the value is set against (as a ratio value ÷ comparison). */
  comparison?: { name: string; value: number };
  /** `ok`, or `not run: <reason>`, `failed: <reason>`. */
  status: string;
  /** Why a target was missed, or anything the reader needs beside the figure. */
  note?: string;
}

export interface Machine {
  cores: number;
  memoryBytes: number;
  cpuModel: string;
  /** 1, 5, 15-minute load averages at the start and the end of the run. */
  loadAtStart: number[];
  loadAtEnd?: number[];
  node: string;
  ragsync: string;
  kafka: string;
  platform: string;
}

export interface BenchResults {
  date: string;
  scenario: string;
  quick: boolean;
  startedAt: string;
  finishedAt?: string;
  machine: Machine;
  configuration: Record<string, unknown>;
  figures: Figure[];
  /** Every raw figure of every scenario, by scenario. */
  raw: Record<string, unknown>;
}

/** True, false, or undefined when there is no target or no value. */
export function met(figure: Figure): boolean | undefined {
  if (figure.value === undefined || figure.target === undefined) return undefined;
  let value = figure.value;
  if (figure.target.ratio) {
    if (!figure.comparison || figure.comparison.value === 0) return undefined;
    value = figure.value / figure.comparison.value;
  }
  return figure.target.op === '>=' ? value >= figure.target.value : value <= figure.target.value;
}

/** A number as the table shows it: thousands separated, at most three significant decimals. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function formatTarget(figure: Figure): string {
  if (!figure.target) return '';
  if (figure.target.ratio) return `${figure.target.op === '>=' ? '≥' : '≤'} ${formatNumber(figure.target.value)}× ${figure.comparison?.name ?? ''}`.trim();
  const unit = figure.target.unit ?? figure.unit;
  return `${figure.target.op === '>=' ? '≥' : '≤'} ${formatNumber(figure.target.value)}${unit ? ` ${unit}` : ''}`;
}

function formatRatio(figure: Figure): string {
  const c = figure.comparison;
  if (!c) return '';
  if (figure.value === undefined || c.value === 0) return `${c.name}: ${formatNumber(c.value)}`;
  return `${formatNumber(figure.value / c.value)}× ${c.name} (${formatNumber(c.value)})`;
}

const escape = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The markdown table: every figure next to its target and its comparison of the same run. */
export function renderTable(results: BenchResults): string {
  const m = results.machine;
  const lines = [
    `## ${results.scenario} — ${results.date}${results.quick ? ' (quick)' : ''}`,
    '',
    `${m.cores} cores (${m.cpuModel}), ${formatNumber(m.memoryBytes / 2 ** 30)} GiB; load ${m.loadAtStart.map((l) => l.toFixed(1)).join(' ')} at the start` +
      `${m.loadAtEnd ? `, ${m.loadAtEnd.map((l) => l.toFixed(1)).join(' ')} at the end` : ''}; node ${m.node}, ragsync ${m.ragsync}, Kafka ${m.kafka}`,
    '',
    '| scenario | figure | value | target | met | compared in the same run | status |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const f of results.figures) {
    const ok = met(f);
    const value = f.value === undefined ? '—' : `${formatNumber(f.value)}${f.unit ? ` ${f.unit}` : ''}`;
    const status = f.note ? `${f.status}: ${f.note}` : f.status;
    lines.push(`| ${escape(f.scenario)} | ${escape(f.name)} | ${value} | ${formatTarget(f)} | ${ok === undefined ? '' : ok ? 'yes' : '**no**'} | ${escape(formatRatio(f))} | ${escape(status)} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** `bench/results/<date>-<scenario>.json` and `.md`; returns both paths. */
export function writeResults(dir: string, results: BenchResults): { json: string; markdown: string } {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${results.date}-${results.scenario.replace(/[^a-z0-9-]+/gi, '+')}${results.quick ? '-quick' : ''}`);
  const json = `${base}.json`;
  const markdown = `${base}.md`;
  writeFileSync(json, `${JSON.stringify(results, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  writeFileSync(markdown, renderTable(results));
  return { json, markdown };
}

/** The p-th percentile (0–100) of `values`, nearest rank; undefined for none. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}
