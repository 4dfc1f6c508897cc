import cliProgress from 'cli-progress';

/**
 * How a resync reports its progress: a bar with rate and ETA on a terminal (stderr), or one JSON
 * object per line on stdout (`--progress json`) for programs (docs/resync.md "Progress as JSON").
 */
export type ResyncPhase = 'prepare' | 'replay' | 'switch' | 'catch-up' | 'sweep' | 'cleanup' | 'done' | 'stopped' | 'failed';

export interface ProgressEvent {
  phase: ResyncPhase;
  /** Records (or keys, in the sweep) handled so far in this phase. */
  done: number;
  /** Records to handle in this phase; it grows while live traffic adds records. */
  total: number;
  /** Records per second over the last seconds (0 until known). */
  rate: number;
  /** Seconds left at that rate; null while unknown. */
  etaSeconds: number | null;
  /** The stage whose group is measured (replay and catch-up). */
  stage?: string;
  /** A line for people: what happens, or what went wrong. */
  message?: string;
  /** Phase `done`: what the resync did. */
  summary?: Record<string, unknown>;
}

export interface ProgressSink {
  update(event: ProgressEvent): void;
  close(): void;
}

/**
 * Records per second from successive (time, done) samples, over a sliding window, so the rate
 * (and the ETA) follow the current speed rather than the average since the start.
 */
export class RateMeter {
  private samples: Array<{ at: number; done: number }> = [];

  constructor(private readonly windowMs = 10_000) {}

  sample(at: number, done: number): number {
    if (this.samples.length > 0 && done < this.samples[this.samples.length - 1]!.done) this.samples = [];
    this.samples.push({ at, done });
    while (this.samples.length > 2 && at - this.samples[0]!.at > this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const seconds = (at - first.at) / 1000;
    return seconds <= 0 ? 0 : (done - first.done) / seconds;
  }

  reset(): void {
    this.samples = [];
  }
}

export function etaSeconds(done: number, total: number, rate: number): number | null {
  if (done >= total) return 0;
  if (rate <= 0) return null;
  return Math.ceil((total - done) / rate);
}

/** `--progress json`: one object per line, flushed as it comes; nothing else goes to stdout. */
export class JsonLinesProgress implements ProgressSink {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line)) {}

  update(event: ProgressEvent): void {
    const { phase, done, total, rate, etaSeconds: eta, ...rest } = event;
    this.write(JSON.stringify({ phase, done, total, rate: Math.round(rate * 10) / 10, etaSeconds: eta, ...rest }) + '\n');
  }

  close(): void {}
}

/**
 * `--progress bar`: cli-progress draws one bar per phase on stderr (redrawn in place on a TTY,
 * a line per update otherwise); messages are printed above it.
 */
export class BarProgress implements ProgressSink {
  private bar: cliProgress.SingleBar | undefined;
  private phase: string | undefined;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(event: ProgressEvent): void {
    const label = event.stage === undefined ? event.phase : `${event.phase} ${event.stage}`;
    if (label !== this.phase) {
      this.bar?.stop();
      this.bar = undefined;
      this.phase = label;
    }
    if (event.message !== undefined) {
      this.bar?.stop();
      this.bar = undefined;
      this.stream.write(`${label}: ${event.message}\n`);
    }
    if (event.total <= 0 || ['done', 'stopped', 'failed'].includes(event.phase)) return;
    const payload = { label: label.padEnd(16), rate: event.rate.toFixed(0), left: event.etaSeconds === null ? '?' : formatSeconds(event.etaSeconds) };
    if (this.bar === undefined) {
      this.bar = new cliProgress.SingleBar(
        { format: '{label} [{bar}] {value}/{total} {percentage}% | {rate}/s | ETA {left}', stream: this.stream, hideCursor: false, noTTYOutput: true, notTTYSchedule: 5000, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(event.total, event.done, payload);
    } else {
      this.bar.setTotal(event.total);
      this.bar.update(event.done, payload);
    }
  }

  close(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
