import { readFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { KAFKA_VERSION, PROJECT_ROOT } from '../../src/stack/layout.js';
import type { Machine } from './results.js';

/** What the run ran on: cores, memory, CPU model, load, and the versions of node, ragsync and Kafka. */
export function describeMachine(): Machine {
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    cores: cpus().length,
    memoryBytes: totalmem(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    loadAtStart: loadavg(),
    node: process.versions.node,
    ragsync: pkg.version,
    // The broker of the local stack (`ragsync stack up`), unless KAFKA_BROKERS names another.
    kafka: process.env.KAFKA_BROKERS && !/127\.0\.0\.1:19092|localhost:19092/.test(process.env.KAFKA_BROKERS) ? `unknown (${process.env.KAFKA_BROKERS})` : KAFKA_VERSION,
    platform: `${platform()} ${release()}`,
  };
}
