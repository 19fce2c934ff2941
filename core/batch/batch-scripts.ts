/**
 * The Lua scripts behind BatchStore: every transition of a run's Batch API state is one script,
 * so a process killed between two of them leaves the state whole. Values of the `requests` hash
 * are `<stage>:<index>|<model>|<request JSON>`; members of a batch's list are `<key> <stage>:<index>`;
 * a task's entry in `tasks` is `<job id> <key> <key>…`. Owner scripts are fenced by the run's lease
 * token (KEYS[1] is the run's owner key), as the run ledger's are.
 */

/**
 * A task asks for an answer. Records the task's waiting job and its request key; returns the
 * answer when there is one; otherwise, with `add`, adds the request to its model's pending set
 * once (a retried or re-checking task finds it there or in a batch and adds nothing), with the
 * budget hold reserved for it, if any.
 * KEYS: answers, requests, tasks, pending(model), models, holds.
 * ARGV: key, task, job id, value, now, model, add 0|1, hold JSON | ''.
 * → the answer JSON, 2 (added now), 1 (pending or in a batch already) or 0 (unknown, not added).
 */
export const ASK = `
local key, task, job = ARGV[1], ARGV[2], ARGV[3]
local held = redis.call('hget', KEYS[3], task)
local keys = ''
if held then
  local sp = string.find(held, ' ', 1, true)
  if sp then keys = string.sub(held, sp) end
end
if not string.find(keys, ' ' .. key, 1, true) then keys = keys .. ' ' .. key end
redis.call('hset', KEYS[3], task, job .. keys)
local answer = redis.call('hget', KEYS[1], key)
if answer then return answer end
if redis.call('hexists', KEYS[2], key) == 1 then return 1 end
if ARGV[7] ~= '1' then return 0 end
redis.call('hset', KEYS[2], key, ARGV[4])
redis.call('zadd', KEYS[4], ARGV[5], key)
redis.call('sadd', KEYS[5], ARGV[6])
if ARGV[8] ~= '' then redis.call('hset', KEYS[6], key, ARGV[8]) end
return 2`;

/**
 * A request re-driven online was answered: the answer replaces its error, so a task that runs again
 * uses it instead of paying again. Only while the request is still wanted.
 * KEYS: requests, answers, stats. ARGV: key, answer JSON. → 1 stored, 0 not wanted.
 */
export const ANSWER_ONLINE = `
if redis.call('hexists', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('hset', KEYS[2], ARGV[1], ARGV[2])
redis.call('hincrby', KEYS[3], 'requests:online', 1)
return 1`;

/**
 * Takes up to `max` of a model's oldest pending requests into a new batch, recorded `submitting`
 * with its deterministic display name before anything is sent, so a new owner can find out
 * whether it reached Gemini.
 * KEYS: owner, pending(model), requests, tries, batches, stats.
 * ARGV: token, max, now, model, display name prefix, members key prefix. → batch number, 0 (none pending) or -1 (fenced).
 */
export const FORM = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local popped = redis.call('zpopmin', KEYS[2], tonumber(ARGV[2]))
local members = {}
for i = 1, #popped, 2 do
  local value = redis.call('hget', KEYS[3], popped[i])
  if value then
    local task = string.sub(value, 1, string.find(value, '|', 1, true) - 1)
    members[#members + 1] = popped[i] .. ' ' .. task
    redis.call('hincrby', KEYS[4], popped[i], 1)
  end
end
if #members == 0 then return 0 end
local seq = redis.call('hincrby', KEYS[6], 'seq', 1)
for i = 1, #members, 1000 do redis.call('rpush', ARGV[6] .. seq, unpack(members, i, math.min(i + 999, #members))) end
redis.call('hset', KEYS[5], seq, cjson.encode({seq = seq, model = ARGV[4], displayName = ARGV[5] .. seq, count = #members, createdAt = tonumber(ARGV[3]), state = 'submitting', polls = 0, nextPollAt = 0}))
return seq`;

/** KEYS: owner, batches. ARGV: token, batch number, record JSON. → 1 written, 0 batch already consumed, -1 fenced. */
export const SET_RECORD = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('hexists', KEYS[2], ARGV[2]) == 0 then return 0 end
redis.call('hset', KEYS[2], ARGV[2], ARGV[3])
return 1`;

/**
 * Writes one chunk of a finished batch's results. Chunks are numbered in the batch output's own
 * order and each is applied once (`collected:<seq>`), so re-reading the output after a crash
 * neither stores nor counts anything twice. Every result is counted as spend (Gemini bills what
 * it answered, wanted or not), in one usage report per stage on the run's results stream; an
 * answer is stored only for a request still wanted and not answered yet, and its task's job is
 * returned to be woken, and its budget hold (taken from `holds`) to be settled.
 * KEYS: owner, requests, answers, tasks, stats, results stream, holds.
 * ARGV: token, batch number, chunk number, model, items JSON
 * [[key, answer JSON, is error 0|1, stage, prompt, cached, output, thoughts, usd, unpriced]…].
 * → {{'<stage>|<job id>'…}, {item numbers stored…}, {their hold JSON | ''…}}, {} when the chunk was applied before, or -1 (fenced).
 */
export const ANSWER = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local field = 'collected:' .. ARGV[2]
local chunk = tonumber(ARGV[3])
if tonumber(redis.call('hget', KEYS[5], field) or '0') > chunk then return {} end
local items = cjson.decode(ARGV[5])
local wakes, stored, holds, usage, stages = {}, {}, {}, {}, {}
local answered, failed = 0, 0
for i, it in ipairs(items) do
  local stage = it[4]
  local u = usage[stage]
  if not u then
    u = {0, 0, 0, 0, 0, 0, 0}
    usage[stage] = u
    stages[#stages + 1] = stage
  end
  for j = 1, 6 do u[j] = u[j] + it[j + 4] end
  u[7] = u[7] + 1
  local value = redis.call('hget', KEYS[2], it[1])
  if value and redis.call('hexists', KEYS[3], it[1]) == 0 then
    redis.call('hset', KEYS[3], it[1], it[2])
    stored[#stored + 1] = i
    holds[#holds + 1] = redis.call('hget', KEYS[7], it[1]) or ''
    redis.call('hdel', KEYS[7], it[1])
    if it[3] == 1 then failed = failed + 1 else answered = answered + 1 end
    local task = string.sub(value, 1, string.find(value, '|', 1, true) - 1)
    local held = redis.call('hget', KEYS[4], task)
    wakes[#wakes + 1] = stage .. '|' .. (held and string.match(held, '^(%S+)') or '')
  end
end
for _, stage in ipairs(stages) do
  local u = usage[stage]
  redis.call('xadd', KEYS[6], '*', 'u', cjson.encode({stage = stage, model = ARGV[4], usage = {promptTokens = u[1], cachedTokens = u[2], outputTokens = u[3], thoughtsTokens = u[4], costUsd = u[5], unpricedCalls = u[6], calls = u[7], cacheSavingUsd = 0}}))
end
redis.call('hincrby', KEYS[5], 'requests:answered', answered)
redis.call('hincrby', KEYS[5], 'requests:failed', failed)
redis.call('hset', KEYS[5], field, chunk + 1)
return {wakes, stored, holds}`;

/**
 * Ends a batch, a chunk of its members at a time (call again while it returns 0). Every member
 * still wanted and not answered is either put back at the head of its model's pending set (the
 * batch failed, expired or was cancelled, and the request has been in fewer than `max tries`
 * batches) or given the error `error JSON`, so its task runs it online (its budget hold is
 * returned, to be released: the online call reserves its own). When the list is empty
 * the batch's record goes and its final state is counted.
 * KEYS: owner, requests, answers, tries, batches, stats, members, pending(model), tasks, holds.
 * ARGV: token, batch number, requeue 0|1, max tries, chunk size, error JSON, final state.
 * → {1 done | 0 more, {'<stage>|<job id>'…}, requeued, failed, {hold JSON…}}, or -1 (fenced).
 */
export const FINISH = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local list = redis.call('lrange', KEYS[7], 0, tonumber(ARGV[5]) - 1)
local wakes, holds = {}, {}
local requeued, failed = 0, 0
for _, member in ipairs(list) do
  local sp = string.find(member, ' ', 1, true)
  local key, task = string.sub(member, 1, sp - 1), string.sub(member, sp + 1)
  if redis.call('hexists', KEYS[2], key) == 1 and redis.call('hexists', KEYS[3], key) == 0 then
    if ARGV[3] == '1' and tonumber(redis.call('hget', KEYS[4], key) or '0') < tonumber(ARGV[4]) then
      redis.call('zadd', KEYS[8], 0, key)
      requeued = requeued + 1
    else
      redis.call('hset', KEYS[3], key, ARGV[6])
      failed = failed + 1
      local hold = redis.call('hget', KEYS[10], key)
      if hold then
        holds[#holds + 1] = hold
        redis.call('hdel', KEYS[10], key)
      end
      local held = redis.call('hget', KEYS[9], task)
      wakes[#wakes + 1] = string.sub(task, 1, string.find(task, ':', 1, true) - 1) .. '|' .. (held and string.match(held, '^(%S+)') or '')
    end
  end
end
redis.call('ltrim', KEYS[7], #list, -1)
redis.call('hincrby', KEYS[6], 'requests:requeued', requeued)
redis.call('hincrby', KEYS[6], 'requests:failed', failed)
if redis.call('llen', KEYS[7]) > 0 then return {0, wakes, requeued, failed, holds} end
redis.call('del', KEYS[7])
redis.call('hdel', KEYS[5], ARGV[2])
redis.call('hdel', KEYS[6], 'collected:' .. ARGV[2])
redis.call('hincrby', KEYS[6], 'batches:' .. ARGV[7], 1)
return {1, wakes, requeued, failed, holds}`;

/**
 * Drops the batch state of committed tasks: their requests (pending ones leave their pending set),
 * answers, counts and budget holds (returned, to be released). A batch still holding one of them
 * skips it when it ends.
 * KEYS: requests, answers, tries, tasks, holds. ARGV: pending key prefix, tasks `<stage>:<index>`…
 * → {requests dropped, {hold JSON…}}.
 */
export const FORGET = `
local dropped, holds = 0, {}
for i = 2, #ARGV do
  local held = redis.call('hget', KEYS[4], ARGV[i])
  if held then
    local first = true
    for key in string.gmatch(held, '%S+') do
      if first then first = false else
        local value = redis.call('hget', KEYS[1], key)
        if value then
          local a = string.find(value, '|', 1, true)
          local b = string.find(value, '|', a + 1, true)
          redis.call('zrem', ARGV[1] .. string.sub(value, a + 1, b - 1), key)
          redis.call('hdel', KEYS[1], key)
          dropped = dropped + 1
        end
        redis.call('hdel', KEYS[2], key)
        redis.call('hdel', KEYS[3], key)
        local hold = redis.call('hget', KEYS[5], key)
        if hold then
          holds[#holds + 1] = hold
          redis.call('hdel', KEYS[5], key)
        end
      end
    end
    redis.call('hdel', KEYS[4], ARGV[i])
  end
end
return {dropped, holds}`;
