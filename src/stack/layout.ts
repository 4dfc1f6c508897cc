import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the local development stack lives. Everything is under the git-ignored `.stack/` of the
 * project (or RAGSYNC_STACK_DIR): downloaded distributions, data, logs and pid files.
 * Ports are non-default and bound to 127.0.0.1 so a developer's own Kafka or Redis is untouched.
 */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const KAFKA_VERSION = '3.9.1';
export const APICURIO_VERSION = '3.0.9';

export interface StackLayout {
  root: string;
  dist: string;
  logs: string;
  run: string;
  kafkaHome: string;
  kafkaData: string;
  apicurioHome: string;
  redisData: string;
  mavenRepo: string;
  ports: { kafka: number; controller: number; registry: number; redis: number };
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`${name}: "${raw}" is not a port number`);
  return port;
}

export function stackLayout(): StackLayout {
  const root = resolve(process.env.RAGSYNC_STACK_DIR ?? join(PROJECT_ROOT, '.stack'));
  const dist = join(root, 'dist');
  return {
    root,
    dist,
    logs: join(root, 'logs'),
    run: join(root, 'run'),
    kafkaHome: join(dist, `kafka-${KAFKA_VERSION}`),
    kafkaData: join(root, 'data', 'kafka'),
    apicurioHome: join(dist, `apicurio-${APICURIO_VERSION}`),
    redisData: join(root, 'data', 'redis'),
    mavenRepo: process.env.MAVEN_REPO_LOCAL ?? join(homedir(), '.m2', 'repository'),
    ports: {
      kafka: portFromEnv('RAGSYNC_STACK_KAFKA_PORT', 19092),
      controller: portFromEnv('RAGSYNC_STACK_CONTROLLER_PORT', 19093),
      registry: portFromEnv('RAGSYNC_STACK_REGISTRY_PORT', 18081),
      redis: portFromEnv('RAGSYNC_STACK_REDIS_PORT', 16379),
    },
  };
}

/** The connection settings of the running local stack, as `ragsync stack env` prints them. */
export function stackEnv(layout: StackLayout): Record<string, string> {
  return {
    KAFKA_BROKERS: `127.0.0.1:${layout.ports.kafka}`,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${layout.ports.registry}/apis/ccompat/v7`,
    REDIS_URL: `redis://127.0.0.1:${layout.ports.redis}`,
  };
}
