import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { withDeadline } from '../coordination/redis.js';
import { RetryableError } from '../core/errors.js';
import type { Sink, SinkRecord, SinkResult } from '../core/sink.js';
import { isGatedSink, type CallGate } from './call-gate.js';

/**
 * One writer per record key and target across consumer groups (docs/sinks.md "Priority by change
 * class"). A shop's product, price and stock lanes are three groups, so a product record and a
 * price record of one product can be written at the same time by two processes; each sink reads the
 * versions the shop holds, decides, and writes, and shops have no conditional write. Holding a lock
 * per key (in the coordination Redis, shared by every replica) from the read to the shop's answer
 * makes that read-decide-write exact: the other lane waits for the keys it shares with a write in
 * flight, never for the rest.
 *
 * The locks of a batch are taken all at once or not at all (no deadlock between lanes), expire by
 * themselves if their holder dies, and are renewed while a write is in flight.
 */
export interface KeyLockOptions {
  keyPrefix: string;
  /** How long a lock lives without renewal. @defaultValue 30000 */
  ttlMs?: number;
  /** How long a write waits for keys another writer holds before failing as retryable. @defaultValue 60000 */
  waitMs?: number;
}

const ACQUIRE = `
for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder and holder ~= ARGV[1] then return 0 end
end
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2]) end
return 1`;

const RENEW = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return 1`;

const RELEASE = `
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 1`;

const REDIS_DEADLINE_MS = 5_000;

export function withKeyLocks<V>(sink: Sink<V>, redis: Redis, options: KeyLockOptions): Sink<V> {
  const ttlMs = options.ttlMs ?? 30_000;
  const waitMs = options.waitMs ?? 60_000;
  // A hash tag keeps every lock of a target in one slot of a Redis cluster (one script call).
  const lockKey = (key: string) => `${options.keyPrefix}lock:{${sink.target}}:${key}`;
  const run = (lua: string, keys: string[], ...args: (string | number)[]) =>
    withDeadline(redis.eval(lua, keys.length, ...keys, ...args) as Promise<unknown>, REDIS_DEADLINE_MS, `key locks of ${sink.target}`);

  async function acquire(keys: string[], token: string): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (let attempt = 0; ; attempt += 1) {
      if ((await run(ACQUIRE, keys, token, ttlMs)) === 1) return;
      if (Date.now() >= deadline) {
        throw new RetryableError(`${sink.target}: another writer held keys of this batch for ${waitMs / 1000} s`, { code: 'key_locked' });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(25 * 2 ** Math.min(attempt, 4), 400)));
    }
  }

  return {
    target: sink.target,
    connect: () => sink.connect(),
    close: () => sink.close(),
    // The rate limit outside hands the shop's calls its gate (src/sinks/call-gate.ts).
    ...(isGatedSink(sink) ? { useCallGate: (gate: CallGate) => sink.useCallGate(gate) } : {}),
    async write(records: readonly SinkRecord<V>[]): Promise<SinkResult[]> {
      if (records.length === 0) return sink.write(records);
      const keys = [...new Set(records.map((r) => lockKey(r.key)))].sort();
      const token = randomUUID();
      try {
        await acquire(keys, token);
      } catch (error) {
        if (error instanceof RetryableError) throw error;
        throw new RetryableError(`${sink.target}: cannot take the key locks: ${(error as Error).message}`, { code: 'key_lock_unavailable', cause: error });
      }
      const renewal = setInterval(() => void run(RENEW, keys, token, ttlMs).catch(() => undefined), Math.max(1000, Math.floor(ttlMs / 3)));
      try {
        return await sink.write(records);
      } finally {
        clearInterval(renewal);
        // A lock not released expires after ttlMs: the other lanes then wait that long at most.
        await run(RELEASE, keys, token).catch(() => undefined);
      }
    },
  };
}
