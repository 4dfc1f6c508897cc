import { findRagsyncError, describeError } from '../../core/errors.js';

/** How an HTTP ingress answers a failed publish: the status, its body and a Retry-After. */
export interface PublishFailureAnswer {
  status: number;
  body: { error: string; message: string };
  retryAfterSeconds?: number;
}

const DEFAULT_RETRY_AFTER_SECONDS = 30;

/**
 * Maps a ChangeSink rejection to an answer Magento acts on correctly (plan §7.1): 503 for
 * anything that may work later (Kafka did not acknowledge in time, a topic or the registry is
 * missing or down), so the module keeps the batch and retries; 400 for a record the schema
 * refuses, which a resend would not fix. Messages name the failure, never a secret or a payload.
 */
export function answerPublishFailure(error: unknown): PublishFailureAnswer {
  const known = findRagsyncError(error);
  if (known?.errorClass === 'permanent') {
    return { status: 400, body: { error: known.code, message: known.message } };
  }
  const retryAfterMs = known && 'retryAfterMs' in known ? (known.retryAfterMs as number | undefined) : undefined;
  const retryAfterSeconds = retryAfterMs === undefined ? DEFAULT_RETRY_AFTER_SECONDS : Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    status: 503,
    body: { error: known?.code ?? 'publish_failed', message: `the changes were not stored; retry later (${describeError(error)})` },
    retryAfterSeconds,
  };
}
