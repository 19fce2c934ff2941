import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { runKeys } from '../core/keys.js';
import type { AuditTaskData } from '../core/queues.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { recordText, runFilePath } from '../core/runs/run-files.js';

/**
 * Reads `count` records at random places of a committed JSONL file: seek, skip to the next line,
 * read it. Cost is per sample, not per file, so auditing a run of millions stays cheap.
 */
export function sampleRecords(path: string, committed: number, count: number, random = Math.random): Record<string, unknown>[] {
  const fd = openSync(path, 'r');
  try {
    const size = Math.min(committed, fstatSync(fd).size);
    const seen = new Set<number>();
    const out: Record<string, unknown>[] = [];
    const buffer = Buffer.alloc(64 * 1024);
    for (let tries = 0; out.length < count && tries < count * 4 && size > 0; tries++) {
      let at = Math.floor(random() * size);
      // Back up to the start of the line containing `at`.
      while (at > 0) {
        const n = readSync(fd, buffer, 0, 1, at - 1);
        if (n === 0 || buffer[0] === 10) break;
        at--;
      }
      if (seen.has(at)) continue;
      seen.add(at);
      let line = '';
      for (let pos = at; pos < size; ) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - pos), pos);
        if (n === 0) break;
        const newline = buffer.subarray(0, n).indexOf(10);
        line += buffer.toString('utf8', 0, newline === -1 ? n : newline);
        if (newline !== -1) break;
        pos += n;
      }
      if (line) out.push(JSON.parse(line) as Record<string, unknown>);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Every `filters.audit.every` accepted items of a kind, a pattern audit of a sample of them is queued. */
export class AuditTrigger {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly dataDir: string,
    readonly queue: Queue<AuditTaskData>,
  ) {}

  /** Counts `count` newly accepted records of a kind (one commit batch's). */
  async accepted(runId: string, spec: RunSpec, kind: 'document' | 'chat', count = 1): Promise<boolean> {
    const audit = resolveFilterSpec(spec.filters).audit;
    if (!audit.enabled) return false;
    const keys = runKeys(this.prefix, runId);
    const since = await this.redis.hincrby(keys.stats, `audit:${kind}:since`, count);
    if (since < audit.every) return false;
    await this.redis.hset(keys.stats, `audit:${kind}:since`, 0);
    const file = kind === 'document' ? 'documents' : 'chats';
    const committed = Number((await this.redis.hget(keys.offsets, file)) ?? 0);
    const records = sampleRecords(runFilePath(this.dataDir, runId, file), committed, audit.sampleSize);
    const samples = records.map((r) => ({ id: String(r.id), text: recordText(r) }));
    // Numbered before it is queued: a crash in between leaves a number with no job, which
    // `unfinished` counts as finished, never a job the run cannot find.
    const n = await this.redis.hincrby(keys.stats, `audit:${kind}:queued`, 1);
    await this.queue.add('audit', { runId, kind, samples }, { jobId: auditJobId(runId, kind, n), attempts: 3, backoff: { type: 'exponential', delay: 2000 }, removeOnComplete: 100, removeOnFail: 100 });
    return true;
  }

  /**
   * The first of the run's audits of `kind` numbered above `after` that is still to run or
   * running, or undefined when every one has ended (completed, failed, or gone). A run waits for
   * its audits before it completes: their spend arrives as usage reports the run must still count.
   */
  async unfinished(runId: string, kind: 'document' | 'chat', after: number): Promise<{ ended: number; pending: boolean }> {
    const queued = Number((await this.redis.hget(runKeys(this.prefix, runId).stats, `audit:${kind}:queued`)) ?? 0);
    let ended = after;
    while (ended < queued) {
      const state = await this.queue.getJobState(auditJobId(runId, kind, ended + 1));
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return { ended, pending: true };
      ended++;
    }
    return { ended, pending: false };
  }
}

export function auditJobId(runId: string, kind: 'document' | 'chat', n: number): string {
  return `${runId}.audit.${kind}.${n}`;
}
