import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeSink } from '../../core/changes.js';
import type { ErpEventOptions } from './event.js';
import { startPubSubBridge } from './pubsub.js';
import { startStreamBridge } from './stream.js';

export type ErpTransport = 'stream' | 'pubsub' | 'both';

export interface ErpBridgeOptions {
  transport: ErpTransport;
  sink: ChangeSink;
  /** Opens a dedicated Redis connection (each transport holds one for itself). */
  openRedis: () => Redis;
  event: Omit<ErpEventOptions, 'fallbackMillis' | 'subIndex'>;
  logger: Logger;
  ackTimeoutMs?: number;
  stream: { key: string; group: string; consumer: string; blockMs?: number; claimIdleMs?: number };
  channelPrefix?: string;
}

export interface ErpBridge {
  stop(): Promise<void>;
  stats(): { stream?: { published: number; rejected: number }; pubsub?: { published: number; rejected: number; failed: number } };
}

/**
 * Starts the ERP bridge on the chosen transports (docs/connectors/erp-events.md says which to
 * choose: the stream unless the ERP can only publish to channels). Stop it to close its
 * connections after the batch in flight.
 */
export async function startErpBridge(options: ErpBridgeOptions): Promise<ErpBridge> {
  const connections: Redis[] = [];
  const open = () => {
    const redis = options.openRedis();
    connections.push(redis);
    return redis;
  };
  const stream =
    options.transport === 'pubsub'
      ? undefined
      : startStreamBridge({ redis: open(), sink: options.sink, event: options.event, logger: options.logger, ackTimeoutMs: options.ackTimeoutMs, stream: options.stream.key, group: options.stream.group, consumer: options.stream.consumer, blockMs: options.stream.blockMs, claimIdleMs: options.stream.claimIdleMs });
  stream?.done.catch((error: unknown) => options.logger.error({ err: error }, 'ERP stream bridge stopped'));
  const pubsub =
    options.transport === 'stream'
      ? undefined
      : await startPubSubBridge({ subscriber: open(), sink: options.sink, event: options.event, logger: options.logger, ackTimeoutMs: options.ackTimeoutMs, channelPrefix: options.channelPrefix });
  return {
    stats: () => ({ stream: stream?.stats, pubsub: pubsub?.stats }),
    async stop() {
      await Promise.all([stream?.stop(), pubsub?.stop()]);
      await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}
