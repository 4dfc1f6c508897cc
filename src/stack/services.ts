import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { kafkaAnswers } from '../kafka/health.js';
import { APICURIO_VERSION, stackEnv, type StackLayout } from './layout.js';
import { installApicurio, installKafka } from './install.js';
import { checkJava } from './prerequisites.js';
import { ensureRedis } from './tools.js';
import { portOpen, readPid, type DaemonSpec } from './processes.js';

/** A local service of the development stack. */
export interface Service {
  name: string;
  port: number;
  logFile: string;
  pidFile: string;
  /** Checks prerequisites and downloads what is missing. */
  prepare(log: (line: string) => void): Promise<void>;
  daemon(): DaemonSpec;
  healthy(): Promise<boolean>;
  startTimeoutMs: number;
}

function redis(layout: StackLayout): Service {
  const logFile = join(layout.logs, 'redis.log');
  const pidFile = join(layout.run, 'redis.pid');
  let command = 'redis-server';
  return {
    name: 'redis',
    port: layout.ports.redis,
    logFile,
    pidFile,
    startTimeoutMs: 15_000,
    prepare: async (log) => {
      command = await ensureRedis(layout, log);
      mkdirSync(layout.redisData, { recursive: true });
    },
    daemon: () => ({
      name: 'redis',
      command,
      args: ['--bind', '127.0.0.1', '--port', String(layout.ports.redis), '--dir', layout.redisData, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--protected-mode', 'yes'],
      cwd: layout.redisData,
      logFile,
      pidFile,
    }),
    healthy: () => redisAnswers(layout.ports.redis),
  };
}

function kafkaProperties(layout: StackLayout): string {
  const { kafka, controller } = layout.ports;
  return `# Written by ragsync stack up: single-node KRaft (broker + controller) for local development.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controller}
listeners=PLAINTEXT://127.0.0.1:${kafka},CONTROLLER://127.0.0.1:${controller}
advertised.listeners=PLAINTEXT://127.0.0.1:${kafka}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=${layout.kafkaData}
num.partitions=1
# Topics are created by \`ragsync topics apply\` only.
auto.create.topics.enable=false
# Internal topics fit a single node.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# Compaction runs promptly so replays in tests see compacted topics as production would.
log.cleaner.backoff.ms=1000
`;
}

function log4jProperties(layout: StackLayout): string {
  return `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${join(layout.logs, 'kafka-server.log')}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
`;
}

/**
 * A KRaft cluster id: 16 random bytes, base64url like Kafka's own. Like Kafka's Uuid, never one that
 * starts with `-`, which a command line would read as an option (`--cluster-id=` guards old ones).
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function kafka(layout: StackLayout): Service {
  const logFile = join(layout.logs, 'kafka.log');
  const pidFile = join(layout.run, 'kafka.pid');
  const configDir = join(layout.root, 'config');
  const properties = join(configDir, 'server.properties');
  const classpath = `${join(layout.kafkaHome, 'libs')}/*`;
  return {
    name: 'kafka',
    port: layout.ports.kafka,
    logFile,
    pidFile,
    startTimeoutMs: 90_000,
    prepare: async (log) => {
      checkJava();
      await installKafka(layout, log);
      mkdirSync(configDir, { recursive: true });
      mkdirSync(layout.logs, { recursive: true });
      writeFileSync(properties, kafkaProperties(layout));
      writeFileSync(join(configDir, 'log4j.properties'), log4jProperties(layout));
      const idFile = join(configDir, 'cluster-id');
      if (!existsSync(idFile)) writeFileSync(idFile, newClusterId());
      const clusterId = readFileSync(idFile, 'utf8').trim();
      const format = spawnSync(
        'java',
        [`-Dlog4j.configuration=file:${join(configDir, 'log4j.properties')}`, '-cp', classpath, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', properties, '--ignore-formatted'],
        { encoding: 'utf8' },
      );
      if (format.status !== 0) throw new Error(`kafka storage format failed: ${(format.stderr || format.stdout).trim().split('\n').pop()}`);
    },
    daemon: () => ({
      name: 'kafka',
      command: 'java',
      args: ['-Xms256m', '-Xmx768m', '-XX:+UseG1GC', `-Dlog4j.configuration=file:${join(configDir, 'log4j.properties')}`, '-cp', classpath, 'kafka.Kafka', properties],
      cwd: layout.root,
      logFile,
      pidFile,
    }),
    healthy: async () => (await portOpen(layout.ports.kafka)) && kafkaAnswers([stackEnv(layout).KAFKA_BROKERS!]),
  };
}

function registry(layout: StackLayout): Service {
  const logFile = join(layout.logs, 'registry.log');
  const pidFile = join(layout.run, 'registry.pid');
  const base = `http://127.0.0.1:${layout.ports.registry}`;
  return {
    name: 'registry',
    port: layout.ports.registry,
    logFile,
    pidFile,
    startTimeoutMs: 120_000,
    prepare: async (log) => {
      checkJava();
      await installApicurio(layout, log);
    },
    daemon: () => ({
      name: 'registry',
      command: 'java',
      args: ['-Xms128m', '-Xmx512m', '-jar', join(layout.apicurioHome, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`)],
      cwd: layout.apicurioHome,
      // kafkasql storage keeps every schema in a compacted Kafka topic (like Confluent's registry),
      // so a registry restart re-reads them and old records stay decodable.
      env: {
        APICURIO_STORAGE_KIND: 'kafkasql',
        APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: stackEnv(layout).KAFKA_BROKERS,
        QUARKUS_HTTP_HOST: '127.0.0.1',
        QUARKUS_HTTP_PORT: String(layout.ports.registry),
        QUARKUS_LOG_CONSOLE_FORMAT: '%d{HH:mm:ss} %-5p [%c{2.}] %s%e%n',
        APICURIO_REST_DELETION_ARTIFACT_ENABLED: 'true',
        APICURIO_REST_DELETION_ARTIFACT_VERSION_ENABLED: 'true',
        APICURIO_REST_DELETION_GROUP_ENABLED: 'true',
      },
      logFile,
      pidFile,
    }),
    healthy: async () => {
      try {
        const ready = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(3000) });
        if (!ready.ok) return false;
        const subjects = await fetch(`${base}/apis/ccompat/v7/subjects`, { signal: AbortSignal.timeout(3000) });
        return subjects.ok;
      } catch {
        return false;
      }
    },
  };
}

/** True when a Redis server on 127.0.0.1:`port` answers PING with PONG (RESP, no client needed). */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(3000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** In start order: the registry keeps its schemas in Kafka, so Kafka comes first. */
export function stackServices(layout: StackLayout): Service[] {
  return [redis(layout), kafka(layout), registry(layout)];
}

export function servicePid(service: Service): number | undefined {
  return readPid(service.pidFile);
}
