import { serveProcessHealth } from '../process-health.js';
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { loadConfig } from '../../config/index.js';
import { assertTenant } from '../../core/keys.js';
import { createLogger } from '../../observability/logger.js';
import { openChangeSink, openRedis } from '../../producers/connect.js';
import { startErpBridge, type ErpTransport } from '../../producers/erp/bridge.js';

export interface ErpBridgeCliOptions {
  transport: string;
  tenant?: string;
  currency?: string;
  stream: string;
  group: string;
  consumer: string;
  claimIdle: string;
  channelPrefix: string;
}

/** Adds the bridge's options to a command (`erp bridge` here, `run erp-bridge` in the runner). */
export function erpBridgeOptions(command: Command): Command {
  return command
    .option('--transport <t>', 'stream, pubsub or both', 'stream')
    .option('--tenant <tenant>', 'tenant of events that name none')
    .option('--currency <code>', 'currency of price events that name none')
    .option('--stream <key>', 'Redis stream of ERP events', 'erp:events')
    .option('--group <name>', 'consumer group on the stream', 'ragsync-erp-bridge')
    .option('--consumer <name>', 'consumer name, stable per replica', hostname())
    .option('--claim-idle <seconds>', 'claim entries other consumers left pending this long', '60')
    .option('--channel-prefix <prefix>', 'prefix of the pub/sub channel names', '');
}

/** Runs the ERP bridge until SIGINT/SIGTERM (docs/connectors/erp-events.md). */
export async function runErpBridge(options: ErpBridgeCliOptions & { port?: number }): Promise<void> {
  // `run erp-bridge --port` moves its health endpoint, as it does a stage worker's.
  const config = loadConfig({ overrides: { 'http.port': options.port } });
  if (!['stream', 'pubsub', 'both'].includes(options.transport)) throw new Error(`--transport must be stream, pubsub or both, got "${options.transport}"`);
  if (options.tenant !== undefined) assertTenant(options.tenant);
  const claimIdle = Number(options.claimIdle);
  if (!(claimIdle >= 0)) throw new Error(`--claim-idle must be a number of seconds, got "${options.claimIdle}"`);
  const logger = createLogger({ level: config.logLevel, name: 'erp-bridge' });
  const health = await serveProcessHealth(config, 'erp-bridge', logger);
  const sink = await openChangeSink(config);
  const bridge = await startErpBridge({
    transport: options.transport as ErpTransport,
    sink,
    openRedis: () => openRedis(config, { blocking: true }),
    event: {
      tenant: options.tenant,
      defaultCurrency: options.currency,
      storesOf: (tenant) => config.tenants[tenant]?.stores ?? [0],
      maxFutureSeconds: config.ingress.maxFutureSeconds,
    },
    logger,
    ackTimeoutMs: config.kafka.ackTimeoutMs,
    // The stream belongs to the ERP: its key is used as given, without ragsync's Redis prefix.
    stream: { key: options.stream, group: options.group, consumer: options.consumer, claimIdleMs: claimIdle * 1000 },
    channelPrefix: options.channelPrefix,
  });
  health.set('running');
  logger.info({ transport: options.transport, stream: options.stream, group: options.group, consumer: options.consumer }, 'ERP bridge running');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  logger.info(bridge.stats(), 'ERP bridge stopping');
  health.set('stopping');
  await bridge.stop();
  await sink.close();
  await health.close();
}

/** `ragsync erp bridge`: the same bridge as `ragsync run erp-bridge`. */
export function registerErpCommand(program: Command): void {
  const erp = program.command('erp').description('bridge ERP events from Redis to the change topics');
  erpBridgeOptions(erp.command('bridge').description('read ERP events (Redis stream and/or pub/sub) and publish them')).action((options: ErpBridgeCliOptions) => runErpBridge(options));
}
