import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeSink } from '../../core/changes.js';
import { ERP_CHANNEL_NAMES } from './channels.js';
import { describeError } from '../../core/errors.js';
import { publishUnits } from '../publish-units.js';
import { parseErpEvent, type ErpEventOptions } from './event.js';

export interface PubSubBridgeOptions {
  /** A connection of its own: a subscribed Redis connection can do nothing else. */
  subscriber: Redis;
  sink: ChangeSink;
  event: Omit<ErpEventOptions, 'fallbackMillis' | 'subIndex'>;
  logger: Logger;
  ackTimeoutMs?: number;
  /** Channel names are the ERP's event names, optionally behind a prefix such as `erp:`. */
  channelPrefix?: string;
}

/**
 * Subscribes to the ERP's pub/sub channels and publishes each event as it arrives, one at a time in
 * arrival order. Pub/sub keeps nothing: events sent while the bridge is down, or that fail to
 * publish, are lost (counted and logged). Use the stream transport (stream.ts) where that matters.
 */
export async function startPubSubBridge(options: PubSubBridgeOptions): Promise<{ stop(): Promise<void>; stats: { published: number; rejected: number; failed: number } }> {
  const prefix = options.channelPrefix ?? '';
  const stats = { published: 0, rejected: 0, failed: 0 };
  let chain = Promise.resolve();

  const handle = async (channel: string, message: string) => {
    const name = channel.slice(prefix.length);
    let result: ReturnType<typeof parseErpEvent>;
    try {
      result = parseErpEvent(name, message, { ...options.event, fallbackMillis: Date.now() });
    } catch (error) {
      // The readers are written never to throw; should one still, the event is rejected, not the bridge.
      result = { ok: false, issues: [{ path: '', message: `could not be read: ${describeError(error)}` }] };
    }
    if (!result.ok) {
      stats.rejected += 1;
      options.logger.warn({ channel, issues: result.issues }, 'ERP event rejected');
      return;
    }
    try {
      // A record the sink refuses before sending (too large for its topic) rejects the event.
      const [refused] = await publishUnits(options.sink, [{ messages: result.messages }], { dataPath: 'data', ...(options.ackTimeoutMs === undefined ? {} : { timeoutMs: options.ackTimeoutMs }) });
      if (refused) {
        stats.rejected += 1;
        options.logger.warn({ channel, issues: refused.issues }, 'ERP event rejected');
        return;
      }
      stats.published += result.messages.length;
    } catch (error) {
      stats.failed += 1;
      options.logger.error({ channel, err: error }, 'ERP event lost: publish failed and pub/sub cannot redeliver');
    }
  };

  const listener = (channel: string, message: string) => {
    chain = chain.then(() => handle(channel, message));
  };
  options.subscriber.on('message', listener);
  await options.subscriber.subscribe(...ERP_CHANNEL_NAMES.map((c) => `${prefix}${c}`));
  return {
    stats,
    async stop() {
      await options.subscriber.unsubscribe().catch(() => undefined);
      options.subscriber.off('message', listener);
      await chain;
    },
  };
}
