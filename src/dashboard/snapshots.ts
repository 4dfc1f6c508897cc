import type { PipelineStatus } from '../cli/status-view.js';
import { describeError } from '../core/errors.js';

/** One point of the dashboard's charts: per stage, lag and records per second, at one time. */
export interface HistoryPoint {
  at: number;
  lag: Record<string, number>;
  inPerSecond: Record<string, number>;
  donePerSecond: Record<string, number>;
}

export interface SnapshotsOptions {
  read: () => Promise<PipelineStatus>;
  /** Pause between the end of one read and the start of the next. @defaultValue 5000 */
  intervalMs?: number;
  /** Points kept for the charts. @defaultValue 720 (an hour at 5 s) */
  historySize?: number;
}

/**
 * Reads the status over and over (one read at a time, however many pages are open) and keeps the
 * newest one with a history of lag and throughput for the charts. A failed read keeps the last
 * good status and says why.
 */
export class Snapshots {
  status: PipelineStatus | undefined;
  error: { message: string; at: string } | undefined;
  readonly history: HistoryPoint[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: SnapshotsOptions) {}

  start(): void {
    void this.refresh();
  }

  /** Reads now (or joins the read under way), then schedules the next. */
  refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = undefined;
      if (!this.stopped) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.refresh(), this.options.intervalMs ?? 5000);
      }
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    try {
      const status = await this.options.read();
      this.status = status;
      this.error = undefined;
      const point: HistoryPoint = { at: Date.parse(status.at ?? new Date().toISOString()), lag: {}, inPerSecond: {}, donePerSecond: {} };
      for (const s of status.stages) {
        point.lag[s.stage] = s.lag;
        point.inPerSecond[s.stage] = s.inPerSecond ?? 0;
        point.donePerSecond[s.stage] = s.donePerSecond ?? 0;
      }
      this.history.push(point);
      if (this.history.length > (this.options.historySize ?? 720)) this.history.shift();
    } catch (error) {
      this.error = { message: describeError(error), at: new Date().toISOString() };
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.reading;
  }
}
