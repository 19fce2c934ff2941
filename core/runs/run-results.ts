import type { Redis } from 'ioredis';
import { runKeys } from '../keys.js';
import type { Stage } from '../stages.js';
import type { TaskResult, Usage } from '../task.js';

/**
 * How a worker hands its work to the run's owner: one entry per task result, and one per failed
 * attempt's spend, appended to the run's results stream. The owner reads them in batches, commits
 * each batch with one ledger script and deletes the entries it consumed, so the stream holds at
 * most about a window of entries whatever the run's size.
 */

/** Spend of an attempt that produced no result (it failed and will be retried, or waits for quota). */
export interface UsageReport {
  /**
   * The stage, or spend of the run that is no task's: `audit` for a pattern audit's calls,
   * `prompt-cache` for creating and storing its explicit caches.
   */
  stage: Stage | 'audit' | 'prompt-cache';
  model: string;
  usage: Usage;
}

export type ResultEntry = { id: string; kind: 'result'; result: TaskResult } | { id: string; kind: 'usage'; report: UsageReport & { runId: string } };

export async function publishResult(redis: Redis, prefix: string, result: TaskResult): Promise<void> {
  await redis.xadd(runKeys(prefix, result.runId).results, '*', 'r', JSON.stringify(result));
}

export async function publishUsage(redis: Redis, prefix: string, runId: string, report: UsageReport): Promise<void> {
  await redis.xadd(runKeys(prefix, runId).results, '*', 'u', JSON.stringify(report));
}

/** Decodes stream entries as XRANGE/XREAD return them; an entry that cannot be read is returned as `bad` to be dropped. */
export function decodeEntries(runId: string, raw: [string, string[]][]): { entries: ResultEntry[]; bad: string[] } {
  const entries: ResultEntry[] = [];
  const bad: string[] = [];
  for (const [id, fields] of raw) {
    try {
      if (fields[0] === 'r') entries.push({ id, kind: 'result', result: JSON.parse(fields[1]!) as TaskResult });
      else if (fields[0] === 'u') entries.push({ id, kind: 'usage', report: { ...(JSON.parse(fields[1]!) as UsageReport), runId } });
      else bad.push(id);
    } catch {
      bad.push(id);
    }
  }
  return { entries, bad };
}
