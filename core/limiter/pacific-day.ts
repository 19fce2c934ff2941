/**
 * Gemini's per-day quotas reset at midnight Pacific time (America/Los_Angeles), not UTC. The day
 * must be read from the same clock that grants calls (Redis's TIME inside the script), so this is
 * Lua, spliced into the limiter's scripts: `pacificDay(nowMs)` returns the Pacific date
 * (`YYYY-MM-DD`) and the milliseconds until the next Pacific midnight.
 *
 * Redis has no time-zone data, so the US rule (since 2007) is written out: daylight time from the
 * second Sunday of March, 02:00 PST (10:00 UTC), to the first Sunday of November, 02:00 PDT
 * (09:00 UTC). Dates use Howard Hinnant's days-from-civil arithmetic (exact in doubles).
 */
export const PACIFIC_DAY_LUA = `
local function civilFromDays(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function daysFromCivil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m > 2 and m - 3 or m + 9
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end

-- Day number of the n-th Sunday of a month (1970-01-01, day 0, was a Thursday).
local function nthSunday(y, m, n)
  local first = daysFromCivil(y, m, 1)
  return first + (7 - (first + 4) % 7) % 7 + (n - 1) * 7
end

-- Hours to add to UTC for Pacific time at instant ms: -7 in daylight time, else -8.
local function pacificOffsetHours(ms)
  local y = civilFromDays(math.floor(ms / 86400000))
  local dstStart = nthSunday(y, 3, 2) * 86400000 + 10 * 3600000
  local dstEnd = nthSunday(y, 11, 1) * 86400000 + 9 * 3600000
  if ms >= dstStart and ms < dstEnd then return -7 end
  return -8
end

local function pacificDay(ms)
  local localDays = math.floor((ms + pacificOffsetHours(ms) * 3600000) / 86400000)
  local y, m, d = civilFromDays(localDays)
  -- The next local midnight is never within hours of a DST change (they happen at 02:00), so
  -- the offset read at 07:00 UTC of that date is the offset in force at that midnight.
  local nextMidnight = (localDays + 1) * 86400000
  nextMidnight = nextMidnight - pacificOffsetHours(nextMidnight + 7 * 3600000) * 3600000
  return string.format('%04d-%02d-%02d', y, m, d), nextMidnight - ms
end
`;

/** For tests: ARGV[1] = ms since the epoch → {day, ms until the next Pacific midnight}. */
export const PACIFIC_DAY_PROBE = `${PACIFIC_DAY_LUA}
local day, untilMidnight = pacificDay(tonumber(ARGV[1]))
return {day, untilMidnight}
`;
