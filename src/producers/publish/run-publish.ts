import type { ChangeSink } from '../../core/changes.js';
import { describeError, findRagsyncError } from '../../core/errors.js';
import type { FieldIssue } from '../items/fields.js';
import { publishUnits, type PublishUnit } from '../publish-units.js';
import { parsePublishLine, type LineDefaults } from './ndjson-line.js';

export interface PublishRejection {
  line: number;
  issues: FieldIssue[];
}

/** Why a run stopped before its end: publishing failed, so nothing from `line` on is known to be stored. */
export interface PublishStop {
  /** The first line not known to be published: lines before it (and not rejected) are stored. */
  line: number;
  code: string;
  message: string;
}

export interface PublishSummary {
  lines: number;
  /** Records handed to Kafka and acknowledged (a store-0 change may become several). */
  published: number;
  rejected: number;
  rejections: PublishRejection[];
  dryRun: boolean;
  /** Set when publishing failed and the run stopped there. */
  stopped?: PublishStop;
}

export interface RunPublishOptions extends LineDefaults {
  /** Null with dryRun. */
  sink: ChangeSink | null;
  dryRun?: boolean;
  /** Records per publish call; each call waits for Kafka's acknowledgement. */
  batchSize?: number;
  ackTimeoutMs?: number;
  /** Called after each line is read and after each acknowledged batch. */
  onProgress?: (progress: { lines: number; published: number; rejected: number }) => void;
}

/**
 * Publishing failed and the run stopped: `summary` (with `stopped` set) says what was published and
 * from which line on nothing is known to be. The cause is the sink's error.
 */
export class PublishStoppedError extends Error {
  constructor(
    readonly summary: PublishSummary & { stopped: PublishStop },
    cause: unknown,
  ) {
    super(`publishing stopped at line ${summary.stopped.line}: ${summary.stopped.message}`, { cause });
    this.name = 'PublishStoppedError';
  }
}

/**
 * A line longer than this is refused without being parsed: no record it could become would fit a
 * topic (every string field is at most 2 MiB, a record at most `topics.maxMessageBytes`).
 */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/**
 * Publishes the change events of an NDJSON stream: every line is checked with the webhook's rules;
 * valid lines are published in batches, each acknowledged before the next is sent, and invalid
 * lines are reported by line number (1-based) and skipped. A line the sink refuses before sending
 * (a record too large for its topic) is reported the same way, and the rest of its batch is
 * published. Blank lines are ignored. When publishing fails (Kafka or the registry unavailable),
 * or the input breaks off, the run stops with a PublishStoppedError whose summary says from which
 * line on nothing is known to be stored, so a caller can still print it.
 */
export async function runPublish(lines: AsyncIterable<string>, options: RunPublishOptions): Promise<PublishSummary> {
  const batchSize = options.batchSize ?? 500;
  const summary: PublishSummary = { lines: 0, published: 0, rejected: 0, rejections: [], dryRun: options.dryRun === true };
  let pending: Array<PublishUnit & { line: number }> = [];
  let pendingRecords = 0;
  const reject = (line: number, issues: FieldIssue[]) => {
    summary.rejected += 1;
    summary.rejections.push({ line, issues });
  };

  /** False when publishing failed (`failure` holds why): the run stops. */
  let failure: unknown;
  const flush = async (): Promise<boolean> => {
    if (pending.length === 0) return true;
    const batch = pending;
    pending = [];
    pendingRecords = 0;
    if (summary.dryRun) {
      summary.published += batch.reduce((n, unit) => n + unit.messages.length, 0);
      options.onProgress?.(summary);
      return true;
    }
    try {
      const refused = await publishUnits(options.sink!, batch, { dataPath: 'data', ...(options.ackTimeoutMs === undefined ? {} : { timeoutMs: options.ackTimeoutMs }) });
      const left = new Set(refused.map((r) => r.unit));
      for (const r of refused) reject(batch[r.unit]!.line, r.issues);
      summary.rejections.sort((a, b) => a.line - b.line);
      summary.published += batch.reduce((n, unit, index) => n + (left.has(index) ? 0 : unit.messages.length), 0);
      options.onProgress?.(summary);
      return true;
    } catch (error) {
      summary.stopped = { line: batch[0]!.line, code: findRagsyncError(error)?.code ?? 'publish_failed', message: describeError(error) };
      failure = error;
      return false;
    }
  };
  const stop = (): never => {
    throw new PublishStoppedError(summary as PublishSummary & { stopped: PublishStop }, failure);
  };

  let lineNumber = 0;
  try {
    for await (const text of lines) {
      lineNumber += 1;
      if (text.trim() === '') continue;
      summary.lines += 1;
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > MAX_LINE_BYTES) {
        reject(lineNumber, [{ path: '', message: `the line is ${bytes} bytes; at most ${MAX_LINE_BYTES}` }]);
        options.onProgress?.(summary);
        continue;
      }
      let result: ReturnType<typeof parsePublishLine>;
      try {
        result = parsePublishLine(text, lineNumber, options);
      } catch (error) {
        // The readers are written never to throw; should one still, the line is refused, not the run.
        result = { ok: false, issues: [{ path: '', message: `could not be read: ${describeError(error)}` }] };
      }
      if (result.ok) {
        pending.push({ line: lineNumber, messages: result.messages });
        pendingRecords += result.messages.length;
      } else reject(lineNumber, result.issues);
      if (pendingRecords >= batchSize) {
        if (!(await flush())) break;
      } else options.onProgress?.(summary);
    }
  } catch (error) {
    // The input broke off (a file removed while read, a closed pipe): publish what was read, then stop.
    if (await flush()) {
      summary.stopped = { line: lineNumber + 1, code: 'input_failed', message: `reading the input failed: ${describeError(error)}` };
      failure = error;
    }
    return stop();
  }
  if (summary.stopped || !(await flush())) return stop();
  return summary;
}
