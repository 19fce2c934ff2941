import { PACIFIC_DAY_LUA } from '../limiter/pacific-day.js';

/**
 * The budget ledger's Redis scripts, one per transition (BudgetLedger is their only caller).
 *
 * Amounts are integers of nano-dollars (1e-9 USD), so sums are exact; doubles hold them exactly up
 * to 2^53 (9 million USD, above the largest budget). Redis's Lua turns a number into a string with
 * 14 significant digits (1e15 would become "1e+15", which HINCRBY refuses), so amounts are only
 * ever passed on as the strings they arrived as, never as computed Lua numbers.
 *
 * A hold is one call's reservation: a member `<hold id>:<nano>` (daily: `<hold id>:<day>:<nano>`)
 * scored by when it expires, in a sorted set beside the running sum `reserved`. A hold past its
 * expiry belongs to a call that cannot still be running (calls are aborted at the request
 * timeout; the hold lives longer), so its worker died: the next reservation gives it back. A
 * holds key expires with its last hold, and an empty one resets its sum, so nothing is held forever.
 */

const NOW_LUA = `
local function redisNow(arg)
  local now = tonumber(arg)
  if now then return now end
  local t = redis.call('time')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Reserves a call's worst case against its run's cap and its model's daily cap, both or neither.
 * KEYS: run budget, run holds, daily budget, daily holds.
 * ARGV: hold id, worst nano (-1: the model has no price), hold ttl ms, initial cap nano | '' (the
 * spec's, set if the run has none yet), daily cap nano | '', refusal note, '1' when the call is a
 * run's, now ms | ''.
 * → {outcome, run capped 0|1, day, retry ms}; outcome 'ok' (held), 'wait' (only holds of calls in
 * flight stand in the way: their settles may make room), 'refused' (the run's cap: no call of the
 * run until it is raised), 'daily-spent' (the model's budget for this Pacific day).
 */
export const RESERVE = `${PACIFIC_DAY_LUA}${NOW_LUA}
local now = redisNow(ARGV[8])
local id, w, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

-- Gives back the holds that expired; returns how many are left.
local function releaseExpired(holds, release)
  local expired = redis.call('zrangebyscore', holds, '-inf', now)
  for _, member in ipairs(expired) do release(member) end
  if #expired > 0 then redis.call('zremrangebyscore', holds, '-inf', now) end
  return redis.call('zcard', holds)
end

local capped, wait = 0, false
if ARGV[7] == '1' then
  if ARGV[4] ~= '' then redis.call('hsetnx', KEYS[1], 'cap', ARGV[4]) end
  local cap = tonumber(redis.call('hget', KEYS[1], 'cap'))
  if cap then
    capped = 1
    local left = releaseExpired(KEYS[2], function(member)
      redis.call('hincrby', KEYS[1], 'reserved', '-' .. string.match(member, ':(%d+)$'))
    end)
    if left == 0 then redis.call('hset', KEYS[1], 'reserved', 0) end
    if redis.call('hexists', KEYS[1], 'refused') == 1 then return {'refused', 1, '', 0} end
    local spent = tonumber(redis.call('hget', KEYS[1], 'spent') or '0')
    local reserved = tonumber(redis.call('hget', KEYS[1], 'reserved') or '0')
    if w < 0 or spent + w > cap then
      -- Even with nothing else in flight this call would pass the cap: the run stops here.
      redis.call('hset', KEYS[1], 'refused', ARGV[6])
      return {'refused', 1, '', 0}
    end
    if spent + reserved + w > cap then wait = true end
  end
end

local day, untilMidnight = '', 0
if ARGV[5] ~= '' then
  if w < 0 then return redis.error_reply('a model with a daily budget needs a price') end
  local dailyCap = tonumber(ARGV[5])
  day, untilMidnight = pacificDay(now)
  local left = releaseExpired(KEYS[4], function(member)
    local d, n = string.match(member, ':([%d-]+):(%d+)$')
    if redis.call('hexists', KEYS[3], d .. ':reserved') == 1 then redis.call('hincrby', KEYS[3], d .. ':reserved', '-' .. n) end
  end)
  if left == 0 and redis.call('hexists', KEYS[3], day .. ':reserved') == 1 then redis.call('hset', KEYS[3], day .. ':reserved', 0) end
  local spent = tonumber(redis.call('hget', KEYS[3], day .. ':spent') or '0')
  local reserved = tonumber(redis.call('hget', KEYS[3], day .. ':reserved') or '0')
  if spent + w > dailyCap then return {'daily-spent', capped, day, untilMidnight} end
  if spent + reserved + w > dailyCap then wait = true end
end

if wait then return {'wait', capped, '', 0} end
if capped == 1 then
  redis.call('zadd', KEYS[2], now + ttl, id .. ':' .. ARGV[2])
  redis.call('hincrby', KEYS[1], 'reserved', ARGV[2])
  redis.call('pexpire', KEYS[2], ttl)
end
if day ~= '' then
  if redis.call('hsetnx', KEYS[3], day .. ':spent', 0) == 1 then
    -- The first reservation of a new Pacific day: the other days are over.
    for _, field in ipairs(redis.call('hkeys', KEYS[3])) do
      if string.sub(field, 1, #day + 1) ~= day .. ':' then redis.call('hdel', KEYS[3], field) end
    end
  end
  redis.call('hincrby', KEYS[3], day .. ':reserved', ARGV[2])
  redis.call('zadd', KEYS[4], now + ttl, id .. ':' .. day .. ':' .. ARGV[2])
  redis.call('pexpire', KEYS[4], ttl)
  redis.call('pexpire', KEYS[3], untilMidnight + 3600000)
end
return {'ok', capped, day, 0}
`;

/**
 * Ends a hold: the amount it held is given back and the call's actual cost is spent (0 for a
 * failed request). A hold that expired meanwhile was given back already; its call is still spent.
 * A run deleted meanwhile is left alone; so is a Pacific day that is over.
 * KEYS: run budget, run holds, daily budget, daily holds, run meta.
 * ARGV: hold id, held nano, actual nano, '1' when the run held, '1' when the call is a run's, day | ''.
 */
export const SETTLE = `
if ARGV[5] == '1' and redis.call('exists', KEYS[5]) == 1 then
  if ARGV[4] == '1' and redis.call('zrem', KEYS[2], ARGV[1] .. ':' .. ARGV[2]) == 1 then
    redis.call('hincrby', KEYS[1], 'reserved', '-' .. ARGV[2])
  end
  redis.call('hincrby', KEYS[1], 'spent', ARGV[3])
end
if ARGV[6] ~= '' then
  local day = ARGV[6]
  if redis.call('zrem', KEYS[4], ARGV[1] .. ':' .. day .. ':' .. ARGV[2]) == 1 and redis.call('hexists', KEYS[3], day .. ':reserved') == 1 then
    redis.call('hincrby', KEYS[3], day .. ':reserved', '-' .. ARGV[2])
  end
  if redis.call('hexists', KEYS[3], day .. ':spent') == 1 then redis.call('hincrby', KEYS[3], day .. ':spent', ARGV[3]) end
end
return 1
`;

/**
 * Sets a run's cap (PATCH). Raising the cap of a run that was refused clears the refusal and marks
 * when (`resume`), so the run's owner resumes it and returns its parked tasks; lowering keeps it.
 * KEYS: run budget, run meta. ARGV: cap nano, the spec's cap nano | '', final states…
 * → {1, previous cap nano | '', resumed 0|1}, {-1} no such run, {-2, state} the run is over.
 */
export const SET_CAP = `${NOW_LUA}
local state = redis.call('hget', KEYS[2], 'state')
if not state then return {-1} end
for i = 3, #ARGV do if state == ARGV[i] then return {-2, state} end end
local previous = redis.call('hget', KEYS[1], 'cap') or ARGV[2]
redis.call('hset', KEYS[1], 'cap', ARGV[1])
local resumed = 0
if redis.call('hexists', KEYS[1], 'refused') == 1 and (previous == '' or tonumber(ARGV[1]) > tonumber(previous)) then
  redis.call('hdel', KEYS[1], 'refused')
  redis.call('hset', KEYS[1], 'resume', redisNow(''))
  resumed = 1
end
return {1, previous, resumed}
`;

/** The run's owner stops a refused run. KEYS: owner, meta, run budget. ARGV: token. → 1 stopped, 0 not (refusal cleared, or not running), -1 fenced. */
export const EXHAUST = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('hget', KEYS[2], 'state') ~= 'running' then return 0 end
if redis.call('hexists', KEYS[3], 'refused') == 0 then return 0 end
redis.call('hset', KEYS[2], 'state', 'budget_exhausted')
return 1
`;

/** The run's owner resumes a run whose refusal was cleared (its cap raised). KEYS: owner, meta, run budget. ARGV: token. → 1, 0, -1 fenced. */
export const RESUME = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('hget', KEYS[2], 'state') ~= 'budget_exhausted' then return 0 end
if redis.call('hexists', KEYS[3], 'refused') == 1 then return 0 end
redis.call('hset', KEYS[2], 'state', 'running')
return 1
`;

/**
 * The run's owner is done returning parked tasks after a raise: clears `resume` if it is still the
 * raise it handled and at least `after` ms have passed since (workers' cached run state is that old
 * at most, so none parks a task of the resumed run after it). KEYS: owner, run budget.
 * ARGV: token, resume value handled, after ms. → 1 cleared, 0 not yet, -1 fenced.
 */
export const RETURNED = `${NOW_LUA}
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local resume = redis.call('hget', KEYS[2], 'resume')
if resume ~= ARGV[2] or redisNow('') - tonumber(resume) < tonumber(ARGV[3]) then return 0 end
redis.call('hdel', KEYS[2], 'resume')
return 1
`;

/**
 * A run's budget as status shows it: reserved is the sum of the holds still live (no expired
 * one, whether or not a reservation has given it back yet). KEYS: run budget, run holds.
 * ARGV: now ms | ''. → {cap | '', spent, reserved, refused | '', resume | ''}.
 */
export const READ = `${NOW_LUA}
local now = redisNow(ARGV[1])
local reserved = 0
for _, member in ipairs(redis.call('zrangebyscore', KEYS[2], '(' .. now, '+inf')) do
  reserved = reserved + tonumber(string.match(member, ':(%d+)$'))
end
local v = redis.call('hmget', KEYS[1], 'cap', 'spent', 'refused', 'resume')
return {v[1] or '', v[2] or '0', reserved, v[3] or '', v[4] or ''}
`;

/** A model's daily budget today. KEYS: daily budget, daily holds. ARGV: now ms | ''. → {day, spent, reserved, ms until the day ends}. */
export const READ_DAILY = `${PACIFIC_DAY_LUA}${NOW_LUA}
local now = redisNow(ARGV[1])
local day, untilMidnight = pacificDay(now)
local reserved = 0
for _, member in ipairs(redis.call('zrangebyscore', KEYS[2], '(' .. now, '+inf')) do
  local d, n = string.match(member, ':([%d-]+):(%d+)$')
  if d == day then reserved = reserved + tonumber(n) end
end
return {day, redis.call('hget', KEYS[1], day .. ':spent') or '0', reserved, untilMidnight}
`;
