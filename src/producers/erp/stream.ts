import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ChangeMessage, ChangeSink } from '../../core/changes.js';
import { classify, describeError } from '../../core/errors.js';
import { decideFailure, DEFAULT_FAILURE_POLICY } from '../../core/failure-policy.js';
import { parseErpEvent, type ErpEventOptions } from './event.js';

/** Waits between tries while Kafka or the registry is out: 1 s doubling to a minute, with jitter. */
const RETRY_POLICY = { ...DEFAULT_FAILURE_POLICY, backoff: { initialMs: 1_000, maxMs: 60_000 } };

export interface StreamBridgeOptions {
  /** A connection of its own: XREADGROUP BLOCK holds it. */
  redis: Redis;
  sink: ChangeSink;
  event: Omit<ErpEventOptions, 'fallbackMillis' | 'subIndex'>;
  logger: Logger;
  /** Stream key; entries have the fields `event` (a channel name) and `payload` (the JSON event). */
  stream: string;
  group: string;
  /** Stable per replica (e.g. the host name), so a restart finds its own pending entries. */
  consumer: string;
  ackTimeoutMs?: number;
  /** Entries per read and publish call. */
  count?: number;
  blockMs?: number;
  /** Pending entries of other consumers idle this long are claimed (a replica that died). */
  claimIdleMs?: number;
}

type Entry = [id: string, fields: string[] | null];

/**
 * Reads ERP events from a Redis Stream through a consumer group: nothing is lost while the bridge
 * is down (the group remembers its position; a new group starts at the stream's beginning), and
 * an entry is XACKed only after Kafka acknowledged its records. On start, and after a failed
 * publish, the consumer first re-reads its own pending entries, then claims entries other
 * consumers left pending for `claimIdleMs`. Entries that can never be published (bad JSON, unknown
 * event, invalid data) are copied to `<stream>:rejected` with the reason and acknowledged.
 */
export function startStreamBridge(options: StreamBridgeOptions): { stop(): Promise<void>; done: Promise<void>; stats: { published: number; rejected: number } } {
  const { redis, stream, group, consumer } = options;
  const stats = { published: 0, rejected: 0 };
  let stopped = false;

  const process = async (entries: Entry[]): Promise<void> => {
    const messages: ChangeMessage[] = [];
    const rejected: Array<{ id: string; fields: string[]; reason: string }> = [];
    for (const [id, flat] of entries) {
      if (flat === null) continue;
      const fields = toObject(flat);
      const [ms, seq] = id.split('-').map(Number) as [number, number];
      const result = parseErpEvent(fields.event ?? '', fields.payload ?? '', { ...options.event, fallbackMillis: ms, subIndex: seq });
      if (result.ok) messages.push(...result.messages);
      else rejected.push({ id, fields: flat, reason: result.issues.map((i) => `${i.path} ${i.message}`.trim()).join('; ') });
    }
    if (messages.length > 0) {
      try {
        await options.sink.publish(messages, { timeoutMs: options.ackTimeoutMs });
      } catch (error) {
        if (classify(error) !== 'permanent') throw error;
        if (entries.length === 1) {
          // This entry can never be published (a value its topic refuses): it goes with the rejected.
          const [id, flat] = entries[0]!;
          rejected.push({ id, fields: flat ?? [], reason: describeError(error) });
          messages.length = 0;
        } else {
          // Find the entry Kafka or the registry refuses; the others are published on their own.
          for (const entry of entries) await process([entry]);
          return;
        }
      }
    }
    if (rejected.length > 0) {
      const pipeline = redis.multi();
      for (const r of rejected) pipeline.xadd(`${stream}:rejected`, '*', ...r.fields, 'source_id', r.id, 'reason', r.reason);
      await pipeline.exec();
      options.logger.warn({ stream, rejected: rejected.map((r) => ({ id: r.id, reason: r.reason })) }, 'ERP stream entries rejected');
    }
    await redis.xack(stream, group, ...entries.map(([id]) => id));
    stats.published += messages.length;
    stats.rejected += rejected.length;
  };

  const read = async (id: '0' | '>'): Promise<Entry[]> => {
    const count = options.count ?? 200;
    const reply = (
      id === '>'
        ? await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', options.blockMs ?? 2000, 'STREAMS', stream, id)
        : await redis.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'STREAMS', stream, id)
    ) as Array<[string, Entry[]]> | null;
    // A pending entry deleted from the stream comes back with null fields: acknowledge it too.
    return reply?.[0]?.[1] ?? [];
  };

  const claim = async (): Promise<void> => {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.xautoclaim(stream, group, consumer, options.claimIdleMs ?? 60_000, cursor, 'COUNT', 200)) as [string, Entry[]];
      if (entries.length > 0) await process(entries);
      cursor = next;
    } while (cursor !== '0-0' && !stopped);
  };

  const loop = async () => {
    try {
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
    } catch (error) {
      if (!describeError(error).includes('BUSYGROUP')) throw error;
    }
    let recover = true;
    let failures = 0;
    while (!stopped) {
      try {
        if (recover) {
          for (let pending = await read('0'); pending.length > 0 && !stopped; pending = await read('0')) await process(pending);
          await claim();
          recover = false;
        }
        const entries = await read('>');
        if (entries.length > 0) await process(entries);
        failures = 0;
      } catch (error) {
        if (stopped) break;
        // Nothing was acknowledged: the entries stay pending in Redis and are re-read after a pause
        // that grows while Kafka (or the registry) stays out, and honours a Retry-After. They are
        // never dropped for an outage: an entry only goes to the rejected stream for its own fault.
        failures += 1;
        const decision = decideFailure(error, failures, { ...RETRY_POLICY, maxAttempts: Number.POSITIVE_INFINITY });
        const delayMs = decision.action === 'pause-partition' || decision.action === 'pause-stage' ? decision.delayMs : RETRY_POLICY.backoff.initialMs;
        options.logger.warn({ stream, attempt: failures, delayMs, err: describeError(error) }, 'ERP stream batch not published; retrying');
        recover = true;
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  };

  const done = loop();
  return {
    stats,
    done,
    async stop() {
      stopped = true;
      // XREADGROUP BLOCK returns within blockMs; the loop then sees `stopped`.
      await done.catch(() => undefined);
    },
  };
}

function toObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
