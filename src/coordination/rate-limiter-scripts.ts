import { LUA_NOW } from './redis.js';

/**
 * A token bucket per endpoint in one Redis hash, shared by every replica: `tokens` (fractional),
 * `ts` (epoch ms of the last refill) and `blocked` (epoch ms before which no call may be made, from
 * a 429's Retry-After). The bucket refills continuously at `rate` tokens per second up to `burst`.
 * A full bucket is the same as no key, so the key may expire once it would have refilled, and a
 * quiet endpoint leaves nothing behind.
 */

/** KEYS[1] = bucket; ARGV = now|'', rate per second (0 = no rate, blocks only), burst, tokens wanted.
 *  Returns {granted 0|1, waitMs, reason ''|'rate'|'blocked'}. A refused take changes nothing. */
export const TAKE_LUA = `${LUA_NOW}
local key = KEYS[1]
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local want = tonumber(ARGV[4])
local v = redis.call('HMGET', key, 'tokens', 'ts', 'blocked')
local blocked = tonumber(v[3]) or 0
if now < blocked then
  return {0, blocked - now, 'blocked'}
end
if rate <= 0 then
  return {1, 0, ''}
end
local tokens = tonumber(v[1]) or burst
local ts = tonumber(v[2]) or now
-- A caller whose clock lags the last writer's never refills backwards.
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
  ts = now
end
if tokens >= want then
  tokens = tokens - want
  redis.call('HSET', key, 'tokens', string.format('%.17g', tokens), 'ts', string.format('%d', ts))
  redis.call('PEXPIRE', key, math.ceil((burst - tokens) * 1000 / rate) + 1000)
  return {1, 0, ''}
end
return {0, math.ceil((want - tokens) * 1000 / rate), 'rate'}
`;

/** KEYS[1] = bucket; ARGV = now|'', delayMs, rate per second, burst.
 *  No call before now + delayMs (a later deadline already set stays); the bucket is emptied and
 *  refills from the deadline on, so the replicas resume at the configured rate, not all at once.
 *  Returns the wait until the deadline in force. */
export const BLOCK_LUA = `${LUA_NOW}
local key = KEYS[1]
local untilMs = now + tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local current = tonumber(redis.call('HGET', key, 'blocked')) or 0
if untilMs > current then
  redis.call('HSET', key, 'blocked', string.format('%d', untilMs), 'tokens', '0', 'ts', string.format('%d', untilMs))
  current = untilMs
end
local refill = 0
if rate > 0 then refill = math.ceil(burst * 1000 / rate) end
redis.call('PEXPIRE', key, current - now + refill + 1000)
return current - now
`;
