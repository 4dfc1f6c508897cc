import { Kafka, Partitioners, logLevel, type KafkaConfig, type LogEntry, type Producer, type SASLOptions } from 'kafkajs';
import type { Config } from '../config/index.js';

/** The subset of a pino logger the Kafka client writes to; a pino `Logger` is one as it is. */
export interface KafkaLogSink {
  error(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  info(object: object, message?: string): void;
  debug(object: object, message?: string): void;
}

/**
 * The one partitioner of every ragsync producer: murmur2 over the key bytes, as the Java client
 * does, so a key lands on the same partition number along a chain of topics with equal partition
 * counts, and other clients writing the same keys agree.
 */
export const PARTITIONER = Partitioners.DefaultPartitioner;

// kafkajs warns on every idempotent producer with bounded retries; we bound them on purpose (see
// createIdempotentProducer) and the version guard makes a rare duplicate harmless.
const SILENCED = [/Limiting retries for the idempotent producer/];

function logCreator(sink: KafkaLogSink) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      // pino stamps its own time; `logger: 'kafkajs'` is what `component` says.
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      if (SILENCED.some((re) => re.test(message))) return;
      const object = { component: 'kafkajs', namespace, ...extra };
      if (level === logLevel.ERROR) sink.error(object, message);
      else if (level === logLevel.WARN) sink.warn(object, message);
      // kafkajs' INFO is lifecycle chatter ("Starting", "Consumer has joined the group" with the
      // whole assignment, "Pausing fetching from 1 topics" on every pause): the stage runner logs
      // what matters of it in its own words, so these are debug.
      else sink.debug(object, message);
    };
}

function sasl(config: Config['kafka']): SASLOptions | undefined {
  if (!config.sasl) return undefined;
  const { mechanism, username, password } = config.sasl;
  return { mechanism, username, password } as SASLOptions;
}

export interface CreateKafkaOptions {
  /** Where kafkajs logs go; without it the client is silent. */
  logger?: KafkaLogSink;
  /** Suffix of the configured client id, e.g. `map` → `ragsync-map`. */
  clientIdSuffix?: string;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** A kafkajs client from the config: brokers, TLS, SASL; credentials never reach a log line. */
export function createKafka(config: Pick<Config, 'kafka'>, options: CreateKafkaOptions = {}): Kafka {
  const kafkaConfig: KafkaConfig = {
    clientId: options.clientIdSuffix ? `${config.kafka.clientId}-${options.clientIdSuffix}` : config.kafka.clientId,
    brokers: config.kafka.brokers,
    ssl: config.kafka.ssl,
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
    logLevel: options.logger ? logLevel.INFO : logLevel.NOTHING,
    ...(options.logger ? { logCreator: logCreator(options.logger) } : {}),
  };
  const auth = sasl(config.kafka);
  if (auth) kafkaConfig.sasl = auth;
  return new Kafka(kafkaConfig);
}

/**
 * An idempotent producer (acks=all on every send, one request in flight per broker so a retry can
 * never reorder records of a partition), the explicit partitioner, and no topic auto-creation.
 *
 * Retries are bounded (about two minutes of backoff, like the Java client's delivery.timeout.ms)
 * instead of kafkajs' infinite default for idempotent producers: a send to a dead cluster must end
 * some time, or a closed producer would keep reconnecting in the background forever.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: PARTITIONER,
    retry: { initialRetryTime: 300, retries: 12, maxRetryTime: 15_000 },
  });
}
