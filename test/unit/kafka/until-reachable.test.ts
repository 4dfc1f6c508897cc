import { AuthenticationError, MultipleErrors, NetworkError, ProtocolError, TimeoutError } from '@platformatic/kafka';
import { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSSASLAuthenticationError } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { RetryableError, SystemError } from '../../../src/core/errors.js';
import { classifyPlatformaticKafkaError } from '../../../src/kafka/kafka-errors.js';
import { isKafkaUnreachable, untilKafkaReachable } from '../../../src/kafka/until-reachable.js';
import { createLogger } from '../../../src/observability/logger.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
const protocol = (type: string, retriable: boolean) => new KafkaJSProtocolError({ type, code: 0, retriable, message: type } as unknown as Error);

describe('isKafkaUnreachable', () => {
  it('is true for a broker that is away or not ready yet, at any depth of the causes', () => {
    expect(isKafkaUnreachable(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))).toBe(true);
    expect(isKafkaUnreachable(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('x'), { retryCount: 8, retryTime: 10_000 }))).toBe(true);
    expect(isKafkaUnreachable(protocol('COORDINATOR_LOAD_IN_PROGRESS', true))).toBe(true);
    expect(isKafkaUnreachable(new RetryableError('Kafka refused the records', { code: 'kafka_send_failed', cause: protocol('NOT_COORDINATOR', true) }))).toBe(true);
  });

  it("is true for @platformatic/kafka's errors of a broker away (the stages' producers), as thrown and as classified", () => {
    // What initProducerId throws after its retries against a broker that refuses connections.
    const attempts = Array.from({ length: 3 }, () => new NetworkError('Connection to 127.0.0.1:9092 failed.', { cause: refused() }));
    const connect = new MultipleErrors('initProducerId failed 3 times.', attempts);
    expect(isKafkaUnreachable(connect)).toBe(true);
    expect(isKafkaUnreachable(classifyPlatformaticKafkaError(connect))).toBe(true);
    expect(isKafkaUnreachable(classifyPlatformaticKafkaError(new TimeoutError('Request timed out')))).toBe(true);
    expect(isKafkaUnreachable(new MultipleErrors('Producing messages failed.', [new ProtocolError('COORDINATOR_LOAD_IN_PROGRESS')]))).toBe(true);
    // Refused credentials or rights, or an error Kafka does not mark retriable, are not waited out.
    expect(isKafkaUnreachable(new MultipleErrors('initProducerId failed.', [new AuthenticationError('SASL authentication failed.')]))).toBe(false);
    expect(isKafkaUnreachable(classifyPlatformaticKafkaError(new MultipleErrors('Producing messages failed.', [new ProtocolError('TOPIC_AUTHORIZATION_FAILED')])))).toBe(false);
    expect(isKafkaUnreachable(new MultipleErrors('Producing messages failed.', [new ProtocolError('INVALID_REQUEST')]))).toBe(false);
    expect(isKafkaUnreachable(new MultipleErrors('Producing messages failed.', [new NetworkError('Connection failed.'), new ProtocolError('CLUSTER_AUTHORIZATION_FAILED')]))).toBe(false);
  });

  it('is false for what a wait does not mend: refused credentials or rights, a missing topic found by our own check, another client\'s connection, a bug', () => {
    expect(isKafkaUnreachable(new (KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error)('SASL PLAIN authentication failed'))).toBe(false);
    expect(isKafkaUnreachable(protocol('TOPIC_AUTHORIZATION_FAILED', false))).toBe(false);
    expect(isKafkaUnreachable(new KafkaJSNumberOfRetriesExceeded(protocol('CLUSTER_AUTHORIZATION_FAILED', false), { retryCount: 1, retryTime: 1 }))).toBe(false);
    expect(isKafkaUnreachable(new SystemError('missing topic(s) t.changes.product: run `ragsync topics apply`', { code: 'topic_missing' }))).toBe(false);
    expect(isKafkaUnreachable(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isKafkaUnreachable(protocol('INVALID_REQUEST', false))).toBe(false);
    // Another client's socket error (a store, the registry) is not Kafka being away.
    expect(isKafkaUnreachable(refused())).toBe(false);
  });
});

describe('untilKafkaReachable', () => {
  const quiet = createLogger({ level: 'silent' });

  it('tries again after each wait while Kafka is away, and returns the result once the step succeeds', async () => {
    let calls = 0;
    const result = await untilKafkaReachable(
      async () => {
        calls += 1;
        if (calls < 3) throw new KafkaJSConnectionError('Connection error');
        return 'joined';
      },
      { what: 'testing', logger: quiet, stopped: () => false, initialDelayMs: 5, maxDelayMs: 10 },
    );
    expect(result).toBe('joined');
    expect(calls).toBe(3);
  });

  it('throws any other error at once, without a second try', async () => {
    let calls = 0;
    const step = async () => {
      calls += 1;
      throw new SystemError('missing topic(s) x', { code: 'topic_missing' });
    };
    await expect(untilKafkaReachable(step, { what: 'testing', logger: quiet, stopped: () => false, initialDelayMs: 5 })).rejects.toThrow('missing topic(s) x');
    expect(calls).toBe(1);
  });

  it('ends within a short step when stopped during a long wait, resolving undefined', async () => {
    let stopped = false;
    const started = Date.now();
    setTimeout(() => (stopped = true), 100);
    const result = await untilKafkaReachable(async () => Promise.reject(new KafkaJSConnectionError('away')), { what: 'testing', logger: quiet, stopped: () => stopped, initialDelayMs: 60_000 });
    expect(result).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('logs each wait with what it was doing and when it tries again', async () => {
    const lines: Array<{ msg: string; retryInMs: number; attempt: number }> = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => lines.push(JSON.parse(line) as never) } });
    let calls = 0;
    await untilKafkaReachable(
      async () => {
        calls += 1;
        if (calls < 3) throw new KafkaJSConnectionError('away');
      },
      { what: 'starting the map stage', logger, stopped: () => false, initialDelayMs: 5, maxDelayMs: 8, random: () => 1 },
    );
    expect(lines.map((l) => [l.msg, l.attempt, l.retryInMs])).toEqual([
      ['Kafka cannot be reached yet while starting the map stage; trying again', 1, 5],
      ['Kafka cannot be reached yet while starting the map stage; trying again', 2, 8],
    ]);
  });

  it('spreads its waits: each one a random time between half its ceiling and the ceiling, which doubles', async () => {
    const lines: { retryInMs?: number }[] = [];
    const logger = { warn: (fields: { retryInMs?: number }) => lines.push(fields) } as unknown as Parameters<typeof untilKafkaReachable>[1]['logger'];
    const draws = [0, 0.5, 0];
    let calls = 0;
    await untilKafkaReachable(
      async () => {
        calls += 1;
        if (calls < 4) throw new KafkaJSConnectionError('away');
      },
      { what: 'testing', logger, stopped: () => false, initialDelayMs: 4, maxDelayMs: 12, random: () => draws.shift()! },
    );
    // Ceilings 4, 8, then 12 (the cap): half of 4, three quarters of 8, half of 12.
    expect(lines.map((l) => l.retryInMs)).toEqual([2, 6, 6]);
  });
});
