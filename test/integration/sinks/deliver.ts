import { setTimeout as sleep } from 'node:timers/promises';
import { findRagsyncError } from '../../../src/core/errors.js';
import { decideFailure, DEFAULT_FAILURE_POLICY, type FailurePolicy } from '../../../src/core/failure-policy.js';
import type { Sink, SinkRecord } from '../../../src/core/sink.js';
import { isSignal } from '../../../src/sinks/batch-outcome.js';

export interface Delivery {
  /** Records the policy dead-lettered, with their error. */
  deadLettered: Array<{ record: SinkRecord<unknown>; error: unknown; attempt: number }>;
  applied: number;
  stale: number;
  /** Pauses of the whole stage by reason (`target-down`, `rate-limited`, `system`). */
  stagePauses: Record<string, number>;
}

/**
 * Writes a batch the way the stage runner does (src/kafka/stage-runner.ts), with the failure
 * policy deciding every failure: records before the first failure are done, a dead-lettered record
 * is skipped, a pause waits and writes the rest again from the failed record. Signals are never
 * counted as attempts.
 */
export async function deliver(sink: Sink<unknown>, batch: readonly SinkRecord<unknown>[], policy: Partial<FailurePolicy> = {}, delivery?: Delivery): Promise<Delivery> {
  const settings: FailurePolicy = { ...DEFAULT_FAILURE_POLICY, backoff: { initialMs: 20, maxMs: 200 }, ...policy };
  const done: Delivery = delivery ?? { deadLettered: [], applied: 0, stale: 0, stagePauses: {} };
  let rest = batch.slice();
  let attempts = 0;
  while (rest.length > 0) {
    let outcomes: Array<{ ok: true; stale: boolean } | { ok: false; error: unknown }>;
    try {
      outcomes = (await sink.write(rest)).map((r) => (r.status === 'failed' ? { ok: false as const, error: r.error } : { ok: true as const, stale: r.status === 'stale' }));
    } catch (error) {
      outcomes = rest.map(() => ({ ok: false as const, error }));
    }
    let index = 0;
    let pausedFor: number | undefined;
    for (; index < outcomes.length; index++) {
      const outcome = outcomes[index]!;
      if (outcome.ok) {
        done[outcome.stale ? 'stale' : 'applied'] += 1;
        attempts = 0;
        continue;
      }
      const signal = isSignal(findRagsyncError(outcome.error));
      const decision = decideFailure(outcome.error, signal ? Math.max(attempts, 1) : ++attempts, settings);
      if (decision.action === 'dead-letter') {
        done.deadLettered.push({ record: rest[index]!, error: outcome.error, attempt: attempts || 1 });
        attempts = 0;
        continue;
      }
      if (decision.action === 'pause-stage') done.stagePauses[decision.reason] = (done.stagePauses[decision.reason] ?? 0) + 1;
      pausedFor = decision.action === 'retry-topic' ? settings.backoff.initialMs : decision.delayMs;
      break;
    }
    rest = rest.slice(index);
    if (pausedFor !== undefined) await sleep(pausedFor);
  }
  return done;
}
