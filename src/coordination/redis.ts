import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis as the coordination point of replicas (circuit breakers, rate limits). Coordination only:
 * no record lives here, so when Redis is away the callers go on without it (see the breaker and the
 * limiter for what each does then) instead of stopping the pipeline.
 */

/**
 * Client settings for coordination: a command fails within seconds when Redis is away instead of
 * waiting in ioredis's offline queue for as long as it reconnects. Commands issued while the first
 * connection is still being made wait for it (the offline queue stays on), up to the same bound.
 *
 * The command timeout is only the backstop for a hung Redis. The breaker, the limiter and the key
 * lock bound each call at a second with {@link withDeadline}, which tells a silent Redis from a
 * stalled process; ioredis's own timer cannot (it fires before the waiting answer is read), so a
 * one-second command timeout would turn every long stall of this process into "Redis is away".
 */
export const COORDINATION_REDIS_OPTIONS: RedisOptions = {
  commandTimeout: 5000,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
};

/** A client with {@link COORDINATION_REDIS_OPTIONS}; the caller owns it (`disconnect()`). */
export function createCoordinationRedis(url: string): Redis {
  const redis = new Redis(url, COORDINATION_REDIS_OPTIONS);
  // Failures surface on each command; without a listener ioredis would print every reconnect.
  redis.on('error', () => undefined);
  return redis;
}

/** What the breaker and the limiter log; a pino `Logger` is one. */
export interface CoordinationLogger {
  error(details: object, message: string): void;
  warn(details: object, message: string): void;
  info(details: object, message: string): void;
}

export type ScriptArg = string | number;

/**
 * A Lua script as a function of its keys and arguments. ioredis's `defineCommand` sends EVALSHA and
 * falls back to EVAL once when the server does not know the script (after a restart or a
 * SCRIPT FLUSH), so the script text crosses the network only when needed.
 */
export function defineScript(redis: Redis, name: string, lua: string, numberOfKeys: number): (...args: ScriptArg[]) => Promise<unknown> {
  // Defined once per client; the name is ours alone, so an existing one is this very script.
  if (typeof (redis as unknown as Record<string, unknown>)[name] !== 'function') redis.defineCommand(name, { numberOfKeys, lua });
  const command = (redis as unknown as Record<string, (...args: ScriptArg[]) => Promise<unknown>>)[name]!;
  return (...args) => command.apply(redis, args);
}

/**
 * Rejects when `promise` takes longer than `ms`. This bound holds whatever client the caller passed
 * in, so a hung Redis can never hold a sink call.
 *
 * It measures Redis's silence, not this process's: when the event loop was blocked past the
 * deadline (a long collection, a starved CPU), Node runs the expired timer before it reads the
 * socket, where the answer may have been waiting all along. So the timer only looks once more
 * after the pending input has been read (`setImmediate` runs after the poll phase) and rejects
 * only if the answer is still missing. Without that, a stall would read as "Redis is away", and
 * the breaker would fail open and call a target whose circuit is open.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      immediate = setImmediate(() => reject(new Error(`${what}: Redis did not answer within ${ms} ms`)));
    }, ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
    if (immediate !== undefined) clearImmediate(immediate);
  }
}

/**
 * While Redis is away every call would warn: the same message goes out at most once per
 * `everyMs`, with the number of repeats it stood for.
 */
export class ThrottledWarning {
  private readonly last = new Map<string, { at: number; repeats: number }>();

  constructor(
    private readonly logger: CoordinationLogger | undefined,
    private readonly everyMs: number,
  ) {}

  warn(details: object, message: string): void {
    if (!this.logger) return;
    const seen = this.last.get(message);
    const now = Date.now();
    if (seen && now - seen.at < this.everyMs) {
      seen.repeats += 1;
      return;
    }
    this.last.set(message, { at: now, repeats: 0 });
    this.logger.warn(seen?.repeats ? { ...details, repeats: seen.repeats } : details, message);
  }
}

/** Lua: `now` in epoch milliseconds, from ARGV[1] when the caller passes a clock, else Redis's own. */
export const LUA_NOW = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;
