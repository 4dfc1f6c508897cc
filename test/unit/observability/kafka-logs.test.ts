import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createKafka, type KafkaLogSink } from '../../../src/kafka/client.js';
import { createLogger, type Logger } from '../../../src/observability/logger.js';

/** A pino logger writing into memory, as the process logger writes to stdout. */
function capture(level: string): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const logger = createLogger({ level, destination: { write: (line: string) => void chunks.push(line) } });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const config = loadConfig({ env: {} });

// kafkajs' own logger API: what its consumer, producer and connections call internally.
function kafkaLogger(sink: KafkaLogSink, namespace: string) {
  return createKafka(config, { logger: sink }).logger().namespace(namespace);
}

describe('kafkajs logs through pino', () => {
  it('takes the process logger as it is', () => {
    // Compiles only if a pino Logger is a KafkaLogSink.
    const sink: KafkaLogSink = capture('info').logger;
    expect(typeof sink.warn).toBe('function');
  });

  it('keeps WARN and ERROR, and sends the INFO lifecycle chatter to debug', () => {
    const { logger, lines } = capture('debug');
    const log = kafkaLogger(logger, 'Consumer');
    log.info('Starting', { groupId: 'ragsync.map' });
    log.info('Consumer has joined the group', { groupId: 'ragsync.map', memberAssignment: { 'ragsync.changes': [0, 1, 2] } });
    log.warn('The group is rebalancing, re-joining', { groupId: 'ragsync.map' });
    log.error('Crash: KafkaJSNumberOfRetriesExceeded', { groupId: 'ragsync.map', retryCount: 5 });
    expect(lines().map((l) => [l.level, l.msg])).toEqual([
      [20, 'Starting'],
      [20, 'Consumer has joined the group'],
      [40, 'The group is rebalancing, re-joining'],
      [50, 'Crash: KafkaJSNumberOfRetriesExceeded'],
    ]);
  });

  it('shows no kafkajs INFO line at the default level', () => {
    const { logger, lines } = capture('info');
    const log = kafkaLogger(logger, 'Consumer');
    log.info('Starting', { groupId: 'ragsync.map' });
    log.info('Pausing fetching from 1 topics', { topicPartitions: [] });
    log.error('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092' });
    expect(lines().map((l) => l.msg)).toEqual(['Connection error: connect ECONNREFUSED 127.0.0.1:9092']);
  });

  it('keeps the details, tagged as kafkajs, without kafkajs’ own timestamp', () => {
    const { logger, lines } = capture('info');
    kafkaLogger(logger, 'Connection').warn('Response Heartbeat', { broker: 'kafka:9092', retryCount: 2 });
    const [line] = lines();
    expect(line).toMatchObject({ level: 40, msg: 'Response Heartbeat', component: 'kafkajs', namespace: 'Connection', broker: 'kafka:9092', retryCount: 2 });
    expect(line).not.toHaveProperty('timestamp');
    expect(line).not.toHaveProperty('logger');
    expect(typeof line!.time).toBe('number');
  });

  it('redacts a password that reaches a kafkajs line', () => {
    const { logger, lines } = capture('info');
    kafkaLogger(logger, 'Connection').error('SASL PLAIN authentication failed', { sasl: { username: 'ragsync', password: 'hunter2' } });
    expect(JSON.stringify(lines())).not.toContain('hunter2');
    expect(lines()[0]).toMatchObject({ sasl: { username: 'ragsync', password: '[redacted]' } });
  });

  it('is silent without a logger', () => {
    expect(() => createKafka(config).logger().error('nobody hears this')).not.toThrow();
  });
});
