import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

interface Compose {
  services: Record<string, { image?: string; build?: unknown; environment?: Record<string, unknown>; depends_on?: Record<string, unknown> }>;
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as Compose;

  it('parses and defines Kafka, a schema registry, Qdrant and Redis', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['kafka', 'registry', 'qdrant', 'redis']));
  });

  it('runs Kafka in KRaft mode without automatic topic creation', () => {
    const env = compose.services.kafka!.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(compose.services.kafka!.image).toMatch(/^apache\/kafka:3\.9\./);
  });

  it('keeps the registry schemas in Kafka', () => {
    expect(compose.services.registry!.environment!.APICURIO_STORAGE_KIND).toBe('kafkasql');
  });

  it('points every ragsync service at the compose services', () => {
    const ragsync = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(ragsync.length).toBeGreaterThan(0);
    for (const [, service] of ragsync) {
      expect(service.environment).toMatchObject({ KAFKA_BROKERS: 'kafka:9092', REDIS_URL: 'redis://redis:6379', QDRANT_URL: 'http://qdrant:6333' });
    }
  });
});
