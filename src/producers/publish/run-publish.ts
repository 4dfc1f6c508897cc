import type { ChangeSink } from '../../core/changes.js';
import { describeError, findRagsyncError } from '../../core/errors.js';
import type { FieldIssue } from '../items/fields.js';
import { encodePublishUnits, publishUnits, sendEncodedUnits, type EncodedUnits, type PublishUnit, type UnitRefusal } from '../publish-units.js';
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
  /**
   * Seconds from the start of the run to its end (the last batch acknowledged, or the stop): the
   * connection and the schemas' registration included, the process's own start not.
   */
  seconds: number;
  /** Set when publishing failed and the run stopped there. */
  stopped?: PublishStop;
}

export interface RunPublishOptions extends LineDefaults {
  /** Null with dryRun. */
  sink: ChangeSink | null;
  dryRun?: boolean;
  /** Records per publish call; each call is acknowledged before the next is made. @defaultValue 2000 */
  batchSize?: number;
  /** Batches read, checked and prepared ahead while a publish call waits for Kafka. @defaultValue 2 */
  readAhead?: number;
  /**
   * Batches read ahead before Kafka acknowledged the first one: the producer's start (its thread,
   * the connection, the topics' metadata) takes most of a second on a busy machine, which is
   * better spent reading than waiting. Reading ahead also stops at STARTING_READ_AHEAD_CHARS
   * characters of input until then. @defaultValue 16
   */
  startingReadAhead?: number;
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
 * Records per part of a call that is checked and encoded as soon as it is read (when the sink can
 * encode ahead): the values of a part are garbage a few hundred lines after they were parsed, so
 * they die young rather than being kept, and promoted by the garbage collector, until their whole
 * batch of 2,000 records is cut.
 */
const PART_RECORDS = 250;

/** Characters of input read ahead at most while the producer starts, whatever `startingReadAhead` says. */
const STARTING_READ_AHEAD_CHARS = 32 * 1024 * 1024;

/** One publish call of a run: its lines, and where the reading was when it was cut. */
interface Batch {
  /**
   * Its units, for a sink that cannot encode ahead; undefined otherwise: the messages (and the values
   * they carry) are then garbage as soon as their part is encoded, rather than kept until Kafka
   * acknowledged the batch.
   */
  units: Array<PublishUnit & { line: number }> | undefined;
  /** Per unit: its line number and how many records it has. */
  lines: number[];
  records: number[];
  /** Characters of the lines it was read from. */
  chars: number;
  /** `summary.lines` and the last line number read when the batch was cut. */
  linesRead: number;
  lastLine: number;
  /** Its parts, checked and encoded as they were read, when the sink can do that. */
  prepared: Promise<EncodedUnits[]> | undefined;
}

/** The batch being read: what becomes a Batch when it is cut. */
interface Filling {
  units: Array<PublishUnit & { line: number }>;
  parts: Array<Promise<EncodedUnits>>;
  lines: number[];
  records: number[];
  recordCount: number;
  chars: number;
}

const emptyFilling = (): Filling => ({ units: [], parts: [], lines: [], records: [], recordCount: 0, chars: 0 });

/**
 * Publishes the change events of an NDJSON stream: every line is checked with the webhook's rules;
 * valid lines are published in batches, each acknowledged before the next is sent, and invalid
 * lines are reported by line number (1-based) and skipped. While Kafka acknowledges a batch, the
 * following lines are read, checked and encoded for sending (up to `readAhead` batches, or
 * `startingReadAhead` until Kafka acknowledged the first one, in parts
 * of PART_RECORDS as they are read; see encodePublishUnits), so the work overlaps without changing
 * the order in which records reach Kafka. A line the sink refuses before sending (a record too large for its topic)
 * is reported the same way, and the rest of its batch is published. Blank lines are ignored. When
 * publishing fails (Kafka or the registry unavailable), or the input breaks off, the run stops
 * with a PublishStoppedError whose summary says from which line on nothing is known to be stored,
 * so a caller can still print it; lines read ahead of the batch that failed are left out of that
 * summary, as if the run had ended with that batch.
 */
export async function runPublish(lines: AsyncIterable<string>, options: RunPublishOptions): Promise<PublishSummary> {
  const batchSize = options.batchSize ?? 2000;
  const readAhead = Math.max(1, options.readAhead ?? 2);
  const startingReadAhead = Math.max(readAhead, options.startingReadAhead ?? 16);
  /** Set once Kafka acknowledged a batch: from then on `readAhead` bounds the batches read ahead. */
  let acknowledged = false;
  /** Characters of the batches cut and not yet acknowledged. */
  let charsAhead = 0;
  const started = performance.now();
  // The registry and Kafka are reached while the first batches are read, not after.
  if (!options.dryRun) options.sink?.warmUp?.();
  const summary: PublishSummary = { lines: 0, published: 0, rejected: 0, rejections: [], dryRun: options.dryRun === true, seconds: 0 };
  const clock = (): void => {
    summary.seconds = Math.round(performance.now() - started) / 1000;
  };
  /** Units read since the last part was encoded. */
  let pending: Array<PublishUnit & { line: number }> = [];
  let pendingRecords = 0;
  let filling = emptyFilling();
  let lineNumber = 0;
  const reject = (line: number, issues: FieldIssue[]) => {
    summary.rejected += 1;
    summary.rejections.push({ line, issues });
  };

  const publishOptions = { dataPath: 'data', ...(options.ackTimeoutMs === undefined ? {} : { timeoutMs: options.ackTimeoutMs }) };
  /** Batches cut and not yet sent, in order. */
  const ready: Batch[] = [];
  /** Settles when the one publish call in flight has been taken into the summary. */
  let sending: Promise<void> | undefined;
  /** Set when publishing failed (the batch it failed at, and why): nothing more is sent. */
  let failure: { batch: Batch | undefined; error: unknown } | undefined;

  const taken = (batch: Batch, refused: UnitRefusal[]): void => {
    const left = new Set(refused.map((r) => r.unit));
    for (const r of refused) reject(batch.lines[r.unit]!, r.issues);
    // Lines read ahead may have been rejected already: keep the list in line order.
    if (refused.length > 0) summary.rejections.sort((a, b) => a.line - b.line);
    summary.published += batch.records.reduce((n, records, index) => n + (left.has(index) ? 0 : records), 0);
    options.onProgress?.(summary);
  };

  /** Starts the next publish call when none is in flight; each one starts the next when it is acknowledged. */
  const sendNext = (): void => {
    if (sending !== undefined || failure !== undefined || ready.length === 0) return;
    const batch = ready.shift()!;
    const call = batch.prepared ? batch.prepared.then((parts) => sendEncodedUnits(options.sink!, parts, publishOptions)) : publishUnits(options.sink!, batch.units!, publishOptions);
    sending = call
      .then((refused) => {
        acknowledged = true;
        charsAhead -= batch.chars;
        taken(batch, refused);
      })
      .then(
        () => {
          sending = undefined;
          sendNext();
        },
        (error: unknown) => {
          sending = undefined;
          failure = { batch, error };
        },
      );
  };

  /** Checks and encodes the units read since the last part (when the sink can), as a part of the batch being read. */
  const encodePart = (): void => {
    if (pending.length === 0) return;
    const units = pending;
    pending = [];
    pendingRecords = 0;
    if (summary.dryRun) {
      summary.published += units.reduce((n, unit) => n + unit.messages.length, 0);
      options.onProgress?.(summary);
      return;
    }
    for (const unit of units) {
      filling.lines.push(unit.line);
      filling.records.push(unit.messages.length);
    }
    const part = encodePublishUnits(options.sink!, units, publishOptions);
    if (part === undefined) filling.units.push(...units);
    else {
      // A failure to encode is taken in its batch's turn, after the batches before it.
      part.catch(() => undefined);
      filling.parts.push(part);
    }
  };

  const cut = (): void => {
    encodePart();
    const batch = filling;
    filling = emptyFilling();
    if (batch.lines.length === 0) return;
    const prepared = batch.parts.length > 0 ? Promise.all(batch.parts) : undefined;
    prepared?.catch(() => undefined);
    charsAhead += batch.chars;
    ready.push({ units: prepared ? undefined : batch.units, lines: batch.lines, records: batch.records, chars: batch.chars, linesRead: summary.lines, lastLine: lineNumber, prepared });
    sendNext();
  };

  /** Waits until every batch cut so far is published, or publishing failed. */
  const drain = async (): Promise<void> => {
    while (sending !== undefined) await sending;
  };

  const stop = (): never => {
    const { batch, error } = failure!;
    if (batch) {
      // The summary as it stood when the failed batch was cut: lines read ahead of it are not reported.
      summary.lines = batch.linesRead;
      summary.rejections = summary.rejections.filter((r) => r.line <= batch.lastLine);
      summary.rejected = summary.rejections.length;
      summary.stopped = { line: batch.lines[0]!, code: findRagsyncError(error)?.code ?? 'publish_failed', message: describeError(error) };
    }
    clock();
    throw new PublishStoppedError(summary as PublishSummary & { stopped: PublishStop }, error);
  };

  try {
    for await (const text of lines) {
      lineNumber += 1;
      if (text.trim() === '') continue;
      summary.lines += 1;
      filling.chars += text.length;
      // A UTF-16 unit takes at most 3 bytes in UTF-8: only a long line needs counting.
      const bytes = text.length * 3 > MAX_LINE_BYTES ? Buffer.byteLength(text, 'utf8') : 0;
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
        filling.recordCount += result.messages.length;
      } else reject(lineNumber, result.issues);
      if (filling.recordCount >= batchSize) {
        cut();
        while (sending !== undefined && (acknowledged ? ready.length >= readAhead : ready.length >= startingReadAhead || charsAhead >= STARTING_READ_AHEAD_CHARS)) await sending;
      } else {
        if (pendingRecords >= PART_RECORDS) encodePart();
        options.onProgress?.(summary);
      }
      if (failure) break;
    }
  } catch (error) {
    // The input broke off (a file removed while read, a closed pipe): publish what was read, then stop.
    if (!failure) cut();
    await drain();
    if (!failure) {
      failure = { batch: undefined, error };
      summary.stopped = { line: lineNumber + 1, code: 'input_failed', message: `reading the input failed: ${describeError(error)}` };
    }
    return stop();
  }
  if (!failure) cut();
  await drain();
  if (failure) return stop();
  clock();
  return summary;
}
