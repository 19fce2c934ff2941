import type { Redis, Result } from 'ioredis';
import type { PatternReport } from './llm-audit.js';

/**
 * Once active, a pattern stays active for the run: later samples are already filtered, so their
 * lower prevalence shows the filter working, not the pattern gone. Pure: the new report with the
 * previous report's active patterns carried over.
 */
export function mergeReports(previous: PatternReport | undefined, report: PatternReport): PatternReport {
  const merged: PatternReport = { ...report, patterns: report.patterns.map((p) => ({ ...p })) };
  for (const old of previous?.patterns.filter((p) => p.active) ?? []) {
    const current = merged.patterns.find((p) => p.name === old.name);
    if (!current) merged.patterns.push(old);
    else if (!current.active) {
      current.active = true;
      // Keep enforcing the marker the pattern was activated with if this audit found none.
      if (!current.marker && old.marker) Object.assign(current, { marker: old.marker, ...(old.markerRecall !== undefined ? { markerRecall: old.markerRecall } : {}) });
    }
  }
  return merged;
}

/** KEYS: report. ARGV: the value read ('' = none), the value to write. → 1 written, 0 changed since it was read. */
const COMPARE_AND_SET = `
local current = redis.call('get', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('set', KEYS[1], ARGV[2])
return 1
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfPatternsCompareAndSet(key: string, expected: string, value: string): Result<number, Context>;
  }
}

/**
 * Stores an audit's report merged with the one already there, as one atomic step: the write
 * happens only if the key still holds what the merge read, else the merge is redone on the new
 * value. Two audits of one run finishing together (two worker processes) cannot drop each
 * other's active patterns. A script rather than WATCH/MULTI, because WATCH belongs to a
 * connection and the worker's connection is shared by every stage.
 */
export async function storePatternReport(redis: Redis, key: string, report: PatternReport): Promise<PatternReport> {
  if (typeof (redis as Partial<Redis>).sdfPatternsCompareAndSet !== 'function') redis.defineCommand('sdfPatternsCompareAndSet', { lua: COMPARE_AND_SET, numberOfKeys: 1 });
  for (;;) {
    const raw = (await redis.get(key)) ?? '';
    const merged = mergeReports(raw ? (JSON.parse(raw) as PatternReport) : undefined, report);
    if ((await redis.sdfPatternsCompareAndSet(key, raw, JSON.stringify(merged))) === 1) return merged;
  }
}
