import type { ChangeMessage, ChangeSink } from '../../core/changes.js';
import type { FieldIssue } from '../items/fields.js';
import { parsePublishLine, type LineDefaults } from './ndjson-line.js';

export interface PublishRejection {
  line: number;
  issues: FieldIssue[];
}

export interface PublishSummary {
  lines: number;
  /** Records handed to Kafka and acknowledged (a store-0 change may become several). */
  published: number;
  rejected: number;
  rejections: PublishRejection[];
  dryRun: boolean;
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
 * Publishes the change events of an NDJSON stream: every line is checked with the webhook's rules;
 * valid lines are published in batches, each acknowledged before the next is sent, invalid lines
 * are reported by line number (1-based) and skipped. Blank lines are ignored. A publish failure
 * (Kafka did not acknowledge) stops the run with that error: nothing after the failed batch was sent.
 */
export async function runPublish(lines: AsyncIterable<string>, options: RunPublishOptions): Promise<PublishSummary> {
  const batchSize = options.batchSize ?? 500;
  const summary: PublishSummary = { lines: 0, published: 0, rejected: 0, rejections: [], dryRun: options.dryRun === true };
  let pending: ChangeMessage[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    if (!summary.dryRun) await options.sink!.publish(pending, { timeoutMs: options.ackTimeoutMs });
    summary.published += pending.length;
    pending = [];
    options.onProgress?.(summary);
  };
  let lineNumber = 0;
  for await (const text of lines) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    summary.lines += 1;
    const result = parsePublishLine(text, lineNumber, options);
    if (result.ok) pending.push(...result.messages);
    else {
      summary.rejected += 1;
      summary.rejections.push({ line: lineNumber, issues: result.issues });
    }
    if (pending.length >= batchSize) await flush();
    else options.onProgress?.(summary);
  }
  await flush();
  return summary;
}
