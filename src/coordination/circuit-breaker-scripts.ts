import { LUA_NOW } from './redis.js';

/**
 * The breaker's state machine, one Lua script per operation so every transition is atomic across
 * replicas. One hash per target (one key per script keeps it valid on Redis Cluster):
 *
 * - no key: closed, no recent failure (a healthy target costs no memory);
 * - `failures`: consecutive retryable failures while closed;
 * - `state` = `open` with `until` (epoch ms) and `opened`; or `half_open`;
 * - `p:<probe id>` = the expiry of a probe's lease while half-open. A replica that dies during its
 *   probe cannot hold the slot for longer than the lease.
 *
 * Every write sets a TTL (the idle TTL beyond the end of the open time or of the probe lease), so
 * a target that is never called again leaves nothing behind; an expired key reads as closed.
 * Integers go into Redis through `%d`: Lua would print large numbers in exponent notation.
 */

/** KEYS[1] = state hash; ARGV = now|'', maxProbes, probeTimeoutMs, idleTtlMs, probeId, probeWaitMs.
 *  Returns {state, allowed 0|1, waitMs, probeId|'', transition ''|'half_open'}. */
export const ACQUIRE_LUA = `${LUA_NOW}
local key = KEYS[1]
local maxProbes = tonumber(ARGV[2])
local probeTimeout = tonumber(ARGV[3])
local ttl = tonumber(ARGV[4])
local probeId = ARGV[5]
local probeWait = tonumber(ARGV[6])
local state = redis.call('HGET', key, 'state')
if not state then
  return {'closed', 1, 0, '', ''}
end
local transition = ''
if state == 'open' then
  local untilMs = tonumber(redis.call('HGET', key, 'until')) or 0
  if now < untilMs then
    return {'open', 0, untilMs - now, '', ''}
  end
  redis.call('HSET', key, 'state', 'half_open')
  transition = 'half_open'
end
local fields = redis.call('HGETALL', key)
local live = 0
local earliest = nil
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'p:' then
    local expires = tonumber(fields[i + 1])
    if expires <= now then
      redis.call('HDEL', key, fields[i])
    else
      live = live + 1
      if earliest == nil or expires < earliest then earliest = expires end
    end
  end
end
if live < maxProbes then
  redis.call('HSET', key, 'p:' .. probeId, string.format('%d', now + probeTimeout))
  redis.call('PEXPIRE', key, probeTimeout + ttl)
  return {'half_open', 1, 0, probeId, transition}
end
local wait = probeWait
if earliest ~= nil and earliest - now < wait then wait = earliest - now end
return {'half_open', 0, wait, '', transition}
`;

/** KEYS[1] = state hash; ARGV = now|'', outcome (success|failure|neutral), threshold, openMs, idleTtlMs, probeId|''.
 *  Returns {state, transition ''|'opened'|'reopened'|'closed', failures, waitMs until half-open (0 unless open)}. */
export const REPORT_LUA = `${LUA_NOW}
local key = KEYS[1]
local outcome = ARGV[2]
local threshold = tonumber(ARGV[3])
local openMs = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local probeId = ARGV[6]
local function open()
  redis.call('DEL', key)
  redis.call('HSET', key, 'state', 'open', 'until', string.format('%d', now + openMs), 'opened', string.format('%d', now))
  redis.call('PEXPIRE', key, openMs + ttl)
end
local state = redis.call('HGET', key, 'state') or 'closed'
if state == 'half_open' then
  -- Only a probe decides; a late answer to a call made before the circuit opened does not.
  if probeId == '' or redis.call('HEXISTS', key, 'p:' .. probeId) == 0 then
    return {'half_open', '', 0}
  end
  if outcome == 'success' then
    redis.call('DEL', key)
    return {'closed', 'closed', 0}
  end
  if outcome == 'failure' then
    open()
    return {'open', 'reopened', 0, openMs}
  end
  redis.call('HDEL', key, 'p:' .. probeId)
  return {'half_open', '', 0}
end
if state == 'open' then
  -- Answers to calls made before it opened neither extend nor end the open time.
  local untilMs = tonumber(redis.call('HGET', key, 'until')) or now
  return {'open', '', 0, math.max(0, untilMs - now)}
end
if outcome == 'success' then
  redis.call('DEL', key)
  return {'closed', '', 0}
end
if outcome == 'failure' then
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  if failures >= threshold then
    open()
    return {'open', 'opened', failures, openMs}
  end
  redis.call('PEXPIRE', key, ttl)
  return {'closed', '', failures}
end
return {'closed', '', tonumber(redis.call('HGET', key, 'failures')) or 0}
`;

/** KEYS[1] = state hash; ARGV = now|''. Read-only.
 *  Returns {stored state, failures, waitMs until half-open, live probes}. */
export const PEEK_LUA = `${LUA_NOW}
local key = KEYS[1]
local fields = redis.call('HGETALL', key)
local state = 'closed'
local failures = 0
local untilMs = 0
local probes = 0
for i = 1, #fields, 2 do
  local f = fields[i]
  if f == 'state' then state = fields[i + 1]
  elseif f == 'failures' then failures = tonumber(fields[i + 1])
  elseif f == 'until' then untilMs = tonumber(fields[i + 1])
  elseif string.sub(f, 1, 2) == 'p:' and tonumber(fields[i + 1]) > now then probes = probes + 1
  end
end
local wait = 0
if state == 'open' and untilMs > now then wait = untilMs - now end
return {state, failures, wait, probes}
`;
