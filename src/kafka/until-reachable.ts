import { backoffDelay } from '../core/backoff.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../observability/logger.js';
import { errorChain, isPlatformaticUnreachable } from './kafka-errors.js';

/** kafkajs' names for "the broker could not be reached or did not answer in time". */
const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSTimeout',
]);
/** Kafka's answers that no wait mends: missing rights, refused credentials. */
const REFUSED = new Set(['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE', 'KafkaJSSASLAuthenticationError']);

/**
 * Whether `error` says Kafka is away or not ready yet (a broker starting, restarting or loading
 * its groups), rather than that something is wrong: kafkajs' or @platformatic/kafka's connection
 * refused, reset or timed out, or a protocol error Kafka marks retriable (NOT_COORDINATOR,
 * LEADER_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS…), anywhere along the error's causes.
 * Refused credentials or rights never are, nor a socket error of another client (a store, the
 * registry).
 */
export function isKafkaUnreachable(error: unknown): boolean {
  let unreachable = false;
  for (const current of errorChain(error)) {
    const { name, type, retriable } = current as { name?: unknown; type?: unknown; retriable?: unknown };
    if ((typeof name === 'string' && REFUSED.has(name)) || (typeof type === 'string' && REFUSED.has(type))) return false;
    if (typeof name === 'string' && UNREACHABLE.has(name)) unreachable = true;
    if (retriable === true && typeof name === 'string' && name.startsWith('KafkaJS')) unreachable = true;
  }
  // The stages' producers are @platformatic/kafka's: its network errors and timeouts say the same.
  return unreachable || isPlatformaticUnreachable(error);
}

export interface UntilReachableOptions {
  /** What is being done, for the log: "connecting the map stage". */
  what: string;
  logger: Logger;
  /** Checked between tries: true ends the wait (the result is then undefined). */
  stopped: () => boolean;
  /** The ceiling of the first wait; each next one doubles, up to `maxDelayMs` (see {@link backoffDelay}). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** The jitter's source, for tests: 1 waits the whole ceiling every time. @defaultValue Math.random */
  random?: () => number;
}

/**
 * Runs `step` until it succeeds while Kafka cannot be reached, waiting longer each time (up to 1 s
 * at first, doubling up to 30 s by default, with jitter so that replicas that lost the broker
 * together do not all come back at the same instant) and logging each wait: a worker that starts while the broker is away waits for
 * it, not-ready, instead of exiting into a crash loop. Any other error is thrown at once (a
 * missing topic or refused credentials need a person). Resolves undefined when stopped first.
 */
export async function untilKafkaReachable<T>(step: () => Promise<T>, options: UntilReachableOptions): Promise<T | undefined> {
  const backoff = { initialMs: options.initialDelayMs ?? 1_000, maxMs: options.maxDelayMs ?? 30_000, ...(options.random ? { random: options.random } : {}) };
  for (let attempt = 1; ; attempt += 1) {
    if (options.stopped()) return undefined;
    const delay = backoffDelay(attempt - 1, backoff);
    try {
      return await step();
    } catch (error) {
      if (!isKafkaUnreachable(error)) throw error;
      options.logger.warn({ attempt, retryInMs: delay, err: describeError(error) }, `Kafka cannot be reached yet while ${options.what}; trying again`);
    }
    // In short steps, so that a stop is not kept waiting for the whole delay.
    const until = Date.now() + delay;
    while (Date.now() < until && !options.stopped()) await new Promise((resolve) => setTimeout(resolve, Math.min(250, until - Date.now())));
  }
}
