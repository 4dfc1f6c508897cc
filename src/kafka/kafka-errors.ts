import { PermanentError, RagsyncError, RetryableError, SystemError } from '../core/errors.js';

/** An error and its causes (kafkajs' `originalError`, or `cause`), outermost first, each once. */
export function errorChain(error: unknown): object[] {
  const chain: object[] = [];
  let current: unknown = error;
  while (current && typeof current === 'object' && !chain.includes(current)) {
    chain.push(current);
    current = (current as { originalError?: unknown; cause?: unknown }).originalError ?? (current as { cause?: unknown }).cause;
  }
  return chain;
}

function kafkaErrorTypes(error: unknown): string[] {
  return errorChain(error).flatMap((current) => {
    const { type, name } = current as { type?: unknown; name?: unknown };
    return [type, name].filter((t): t is string => typeof t === 'string');
  });
}

/** Kafka's error names (the protocol's, e.g. MESSAGE_TOO_LARGE) that mean the records themselves are refused. */
const RECORD_REFUSED = ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD'];
/** Kafka's error names that no retry mends: a missing topic, missing rights, refused credentials. */
const NOT_ALLOWED = ['TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED', 'UNSUPPORTED_SASL_MECHANISM', 'ILLEGAL_SASL_STATE'];

/** Classifies a kafkajs failure once, at the edge of the client (docs/design.md §4). */
export function classifyKafkaError(error: unknown): Error {
  if (error instanceof RagsyncError) return error;
  const message = `Kafka refused the records: ${error instanceof Error ? error.message : String(error)}`;
  const types = kafkaErrorTypes(error);
  const has = (...names: string[]) => names.some((n) => types.includes(n));
  if (has(...RECORD_REFUSED)) {
    return new PermanentError(message, { code: 'record_too_large', cause: error });
  }
  if (has('UNKNOWN_TOPIC_OR_PARTITION', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'SASL_AUTHENTICATION_FAILED', 'KafkaJSSASLAuthenticationError')) {
    return new SystemError(message, { code: has('UNKNOWN_TOPIC_OR_PARTITION') ? 'topic_missing' : 'kafka_unauthorized', cause: error });
  }
  return new RetryableError(message, { code: 'kafka_send_failed', cause: error });
}

/** What an @platformatic/kafka error tree says: Kafka's error names, the client's codes, and the messages of its leaves. */
interface PlatformaticErrorFacts {
  /** Kafka's error names of the protocol errors in the tree (`apiId`, e.g. NOT_LEADER_OR_FOLLOWER). */
  apiIds: Set<string>;
  /** The client's codes (`code`, e.g. PLT_KFK_NETWORK, PLT_KFK_AUTHENTICATION). */
  codes: Set<string>;
  /** Messages of the errors that hold no others (the causes), in order, without repeats. */
  leaves: string[];
  /** A "Unknown topic NAME." of the client's metadata lookup, when there is one. */
  unknownTopic: string | undefined;
  /** A protocol error in the tree that Kafka marks retriable (`canRetry`: a leader moving, a coordinator loading). */
  retriableProtocol: boolean;
}

/**
 * Walks an @platformatic/kafka error: a GenericError (`code`, and `apiId` on a Kafka protocol
 * error) or a MultipleErrors/ResponseError (an AggregateError: one error per failed attempt,
 * broker or partition in `errors`), each possibly with a `cause`.
 */
function platformaticErrorFacts(error: unknown): PlatformaticErrorFacts {
  const facts: PlatformaticErrorFacts = { apiIds: new Set(), codes: new Set(), leaves: [], unknownTopic: undefined, retriableProtocol: false };
  const seen = new Set<unknown>();
  const visit = (current: unknown, depth: number): void => {
    if (!current || typeof current !== 'object' || seen.has(current) || depth > 20) return;
    seen.add(current);
    const { apiId, code, message, errors, cause, canRetry } = current as { apiId?: unknown; code?: unknown; message?: unknown; errors?: unknown; cause?: unknown; canRetry?: unknown };
    if (typeof apiId === 'string') facts.apiIds.add(apiId);
    if (code === 'PLT_KFK_PROTOCOL' && canRetry === true) facts.retriableProtocol = true;
    if (typeof code === 'string') facts.codes.add(code);
    if (typeof message === 'string') {
      const unknown = /^Unknown topic (.+)\.$/.exec(message);
      if (unknown && code === 'PLT_KFK_USER') facts.unknownTopic ??= unknown[1];
    }
    const children = [...(Array.isArray(errors) ? (errors as unknown[]) : []), ...(cause === undefined ? [] : [cause])];
    if (children.length === 0 && typeof message === 'string' && !facts.leaves.includes(message)) facts.leaves.push(message);
    for (const child of children) visit(child, depth + 1);
  };
  visit(error, 0);
  return facts;
}

/**
 * Whether an @platformatic/kafka failure (as thrown, or as the cause of our classified error) says
 * Kafka could not be reached or did not answer in time, or answered with an error it marks
 * retriable: what `isKafkaUnreachable` reads from kafkajs' errors. Refused credentials or rights
 * never are.
 */
export function isPlatformaticUnreachable(error: unknown): boolean {
  const facts = platformaticErrorFacts(error);
  if (facts.codes.has('PLT_KFK_AUTHENTICATION') || NOT_ALLOWED.some((name) => facts.apiIds.has(name))) return false;
  return facts.codes.has('PLT_KFK_NETWORK') || facts.codes.has('PLT_KFK_TIMEOUT') || facts.retriableProtocol;
}

/**
 * Classifies an @platformatic/kafka failure as classifyKafkaError does a kafkajs one: a record
 * Kafka refuses (too large, invalid) is permanent; a missing topic, refused credentials or rights
 * are system errors; everything else (a broker unreachable, a leader moving, a timeout, too few
 * replicas) is retryable.
 */
export function classifyPlatformaticKafkaError(error: unknown): Error {
  if (error instanceof RagsyncError) return error;
  const facts = platformaticErrorFacts(error);
  const top = error instanceof Error ? error.message : String(error);
  // The client's own messages say which operation failed ("Producing messages failed."); the
  // leaves say why. At most three of them: a retried failure repeats itself.
  const why = facts.leaves.filter((leaf) => leaf !== top).slice(0, 3);
  const message = `Kafka refused the records: ${top}${why.length > 0 ? ` (${why.join('; ')})` : ''}`;
  const has = (...names: string[]) => names.some((n) => facts.apiIds.has(n));
  if (has(...RECORD_REFUSED)) return new PermanentError(message, { code: 'record_too_large', cause: error });
  if (facts.unknownTopic !== undefined || has('UNKNOWN_TOPIC_OR_PARTITION')) return new SystemError(message, { code: 'topic_missing', cause: error });
  if (has(...NOT_ALLOWED) || facts.codes.has('PLT_KFK_AUTHENTICATION')) return new SystemError(message, { code: 'kafka_unauthorized', cause: error });
  return new RetryableError(message, { code: 'kafka_send_failed', cause: error });
}
