import { PermanentError, RagsyncError, RetryableError, SystemError } from '../core/errors.js';

function kafkaErrorTypes(error: unknown): string[] {
  const types: string[] = [];
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const { type, name } = current as { type?: unknown; name?: unknown };
    if (typeof type === 'string') types.push(type);
    if (typeof name === 'string') types.push(name);
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return types;
}

/** Classifies a kafkajs failure once, at the edge of the client (docs/design.md §4). */
export function classifyKafkaError(error: unknown): Error {
  if (error instanceof RagsyncError) return error;
  const message = `Kafka refused the records: ${error instanceof Error ? error.message : String(error)}`;
  const types = kafkaErrorTypes(error);
  const has = (...names: string[]) => names.some((n) => types.includes(n));
  if (has('MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD')) {
    return new PermanentError(message, { code: 'record_too_large', cause: error });
  }
  if (has('UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED', 'KafkaJSSASLAuthenticationError')) {
    return new SystemError(message, { code: has('UNKNOWN_TOPIC_OR_PARTITION') ? 'topic_missing' : 'kafka_unauthorized', cause: error });
  }
  return new RetryableError(message, { code: 'kafka_send_failed', cause: error });
}
