import { describe, expect, it } from 'vitest';
import { loadConfig, redactConfig } from '../../src/config/index.js';

describe('loadConfig', () => {
  it('uses the local stack defaults when nothing is set', () => {
    const config = loadConfig({ env: {} });
    expect(config.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(config.topics.prefix).toBe('ragsync.');
    expect(config.topics.deleteRetentionMs).toBeGreaterThanOrEqual(7 * 24 * 3600 * 1000);
  });

  it('reads environment variables into their config paths', () => {
    const config = loadConfig({ env: { KAFKA_BROKERS: 'k1:9092, k2:9092', RAGSYNC_PARTITIONS: '12', KAFKA_SSL: 'true' } });
    expect(config.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(config.topics.partitions).toBe(12);
    expect(config.kafka.ssl).toBe(true);
  });

  it('names the variable when a value is not a number', () => {
    expect(() => loadConfig({ env: { RAGSYNC_PARTITIONS: 'twelve' } })).toThrow(/RAGSYNC_PARTITIONS: expected an integer/);
  });

  it('names the variable when a value is out of range', () => {
    expect(() => loadConfig({ env: { RAGSYNC_PARTITIONS: '0' } })).toThrow(/RAGSYNC_PARTITIONS \(topics.partitions\)/);
  });

  it('names the variable when tenants are not valid JSON', () => {
    expect(() => loadConfig({ env: { RAGSYNC_TENANTS: '{acme' } })).toThrow(/RAGSYNC_TENANTS: not valid JSON/);
  });

  describe('when printing the config', () => {
    it('masks every secret', () => {
      const config = loadConfig({
        env: {
          RAGSYNC_TENANTS: '{"acme":{"secrets":["whsec-1234"],"stores":[1,2]}}',
          REDIS_URL: 'redis://:hunter2@cache:6379',
          QDRANT_API_KEY: 'qd-key-999',
          KAFKA_SASL_MECHANISM: 'plain',
          KAFKA_SASL_USERNAME: 'svc',
          KAFKA_SASL_PASSWORD: 'pw-777',
        },
      });
      const printed = JSON.stringify(redactConfig(config));
      for (const secret of ['whsec-1234', 'hunter2', 'qd-key-999', 'pw-777']) expect(printed).not.toContain(secret);
      expect(printed).toContain('"stores":[1,2]');
    });
  });
});
