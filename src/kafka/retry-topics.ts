import { PermanentError, type ErrorClass } from '../core/errors.js';
import { HEADERS } from '../core/records.js';
import { NotDueError } from '../core/signals.js';
import type { RecordOrigin, RecordResult, StageDefinition } from '../core/stage.js';
import { dlqMessage, type FailedRecord } from './dlq.js';
import type { Outgoing } from './ordered-sender.js';
import { retryDueTopicName, retryTopicName } from './topic-catalogue.js';

/**
 * Delayed retry topics of terminal groups (docs/design.md §4): a record whose write failed with a
 * retryable error is copied to `<group>.retry.<delay>` with headers saying where it was first read
 * and when it is due, and the group's retry consumer (`<group>.retry`, a second StageRunner over
 * {@link createRetryStage}) hands it to the same stage again once due. Each failure moves it one
 * tier on; after the last tier it goes to `<group>.dlq`. Intermediate groups never do this: a
 * later record of the key would overtake the failed one in their output topic.
 */
export interface RetryTopicsOptions {
  /** Delay of each tier, in order (`topics.retryDelaysMs`, RAGSYNC_RETRY_DELAYS). */
  delaysMs: readonly number[];
}

/** What the headers of a record in a retry tier say. */
export interface RetryHeaders {
  /** Where the record was first read and how often it has failed. */
  origin: RecordOrigin;
  /** The tier it waits in (0 = the first delay). */
  tier: number;
  /** Epoch milliseconds before which it must not be tried again. */
  dueAt: number;
}

/** The retry consumer's group suffix: its group id is `<groupPrefix><group>.retry`. */
export const retryGroupName = (group: string): string => `${group}.retry`;

/**
 * The copy of a failed record for retry tier `tier`: the original key, value bytes (a tombstone
 * stays a tombstone) and headers (source version, occurred-at, correlation id), the DLQ's failure
 * headers with the first failure's coordinates and time, and when it is due.
 */
export function retryMessage(stage: string, failed: FailedRecord, error: unknown, errorClass: ErrorClass, target: { topic: string; tier: number; delayMs: number }, now = Date.now()): Outgoing {
  const message = dlqMessage(stage, failed, error, errorClass, { now });
  return {
    ...message,
    topic: target.topic,
    headers: { ...message.headers, [HEADERS.dueAt]: new Date(now + target.delayMs).toISOString(), [HEADERS.retryTier]: String(target.tier) },
  };
}

/** Reads a retry record's headers; a PermanentError names what is missing or wrong. */
export function parseRetryHeaders(headers: Record<string, string>): RetryHeaders {
  const topic = headers[HEADERS.origTopic];
  if (!topic) throw invalid(HEADERS.origTopic, headers);
  const partition = wholeNumber(HEADERS.origPartition, headers);
  const offset = headers[HEADERS.origOffset];
  if (offset === undefined || !/^\d+$/.test(offset)) throw invalid(HEADERS.origOffset, headers);
  const failures = wholeNumber(HEADERS.attempt, headers);
  const tier = wholeNumber(HEADERS.retryTier, headers);
  const dueAt = Date.parse(headers[HEADERS.dueAt] ?? '');
  if (!Number.isFinite(dueAt)) throw invalid(HEADERS.dueAt, headers);
  return { origin: { topic, partition, offset, failures }, tier, dueAt };
}

function wholeNumber(name: string, headers: Record<string, string>): number {
  const text = headers[name];
  if (text === undefined || !/^\d+$/.test(text)) throw invalid(name, headers);
  return Number(text);
}

function invalid(name: string, headers: Record<string, string>): PermanentError {
  return new PermanentError(`retry record without a valid header ${name} (got ${JSON.stringify(headers[name] ?? null)})`, { code: 'invalid_retry_headers' });
}

/**
 * The retry consumer of a terminal stage: reads every tier of `stage`'s group and, once a record
 * is due, forwards it unchanged (key, value bytes, headers) to `<group>.retry.due`, which the stage
 * itself reads as one of its co-partitioned inputs ({@link withRetryDue}). So the stage's own
 * group applies every record of a document, from its inputs or from a retry tier, and one member
 * writes a document at a time (docs/design.md §8); the retry consumer writes to no target. Run it
 * with a second StageRunner given {@link retryConsumerOptions} of the same delays as the stage's
 * own runner.
 *
 * A slice stops at its first record that is not due: a tier's partition is in due order (one
 * delay, appended in time order), so nothing behind it is due either. That record fails with a
 * {@link NotDueError}, which pauses the partition until it is due without counting an attempt. A
 * record moved to a later tier can be overtaken by a later record of its key: the stage's version
 * guard drops whichever is older (counted `stale`).
 */
export function createRetryStage<I, O>(stage: StageDefinition<I, O>, options: RetryTopicsOptions & { now?: () => number }): StageDefinition<I, unknown> {
  if (!stage.terminal) throw new Error(`stage ${stage.name} is not terminal: only terminal stages have delayed retry topics (docs/design.md §4)`);
  if (options.delaysMs.length === 0) throw new Error(`stage ${stage.name}: retry topics need at least one delay`);
  const now = options.now ?? Date.now;
  const group = stage.failureGroup ?? stage.group;
  const due = retryDueTopicName(group);
  return {
    name: `${stage.name}.retry`,
    group: retryGroupName(group),
    failureGroup: group,
    inputs: options.delaysMs.map((delay) => retryTopicName(group, delay)),
    output: due,
    terminal: true,
    // Tiers are keyed and partitioned like the stage's inputs: partition n of every tier holds
    // the keys of partition n.
    ...(stage.coPartitioned ? { coPartitioned: true } : {}),
    origin: (headers) => parseRetryHeaders(headers).origin,
    async process(records) {
      const at = now();
      const results: RecordResult<unknown>[] = new Array(records.length);
      for (const [index, record] of records.entries()) {
        let dueAt: number;
        try {
          dueAt = parseRetryHeaders(record.headers).dueAt;
        } catch (error) {
          results[index] = { ok: false, error };
          continue;
        }
        if (dueAt > at) {
          const error = new NotDueError(dueAt, at);
          results.fill({ ok: false, error }, index);
          break;
        }
        // The exact bytes and headers: the stage reads it as the copy it is (see withRetryDue).
        results[index] = {
          ok: true,
          outputs: [{ topic: due, key: record.key, value: null, rawValue: record.raw ?? null, headers: record.headers, sourceVersion: record.sourceVersion, occurredAt: record.occurredAt }],
        };
      }
      return results;
    },
  };
}

/**
 * `stage` reading its group's `<group>.retry.due` too: a record there is a retry copy, decoded
 * with the schema of the topic it was first read from, presented to `process` as read from there,
 * its earlier failures counted in its attempts (see StageDefinition.origin).
 */
export function withRetryDue<I, O>(stage: StageDefinition<I, O>): StageDefinition<I, O> {
  const due = retryDueTopicName(stage.failureGroup ?? stage.group);
  return {
    ...stage,
    inputs: stage.inputs.includes(due) ? stage.inputs : [...stage.inputs, due],
    origin: (headers, topic) => (topic === due ? parseRetryHeaders(headers).origin : stage.origin?.(headers, topic)),
  };
}

/**
 * What the runner of a retry consumer needs besides the options every runner gets: the same tiers
 * as the stage's own runner (where its failures go next) and a fetch wait short enough for them.
 */
export function retryConsumerOptions(options: RetryTopicsOptions): { retry: RetryTopicsOptions; fetch: { maxWaitTimeInMs: number } } {
  return { retry: options, fetch: { maxWaitTimeInMs: retryFetchWaitMs(options.delaysMs) } };
}

/**
 * How long the retry consumer's fetches wait for data: a resumed partition is fetched at the
 * latest when the fetch in flight returns, so this bounds how late a due record is read. A
 * fortieth of the shortest delay (50 ms for 2 s, capped at 500 ms for the default minutes) keeps
 * records well within a tenth of their delay without polling idle topics hard.
 */
export function retryFetchWaitMs(delaysMs: readonly number[]): number {
  return Math.min(500, Math.max(20, Math.floor(Math.min(...delaysMs) / 40)));
}
