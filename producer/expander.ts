import type { Redis } from 'ioredis';
import { runKeys } from '../core/keys.js';
import { taskJobId, taskJobOptions, type StageQueues } from '../core/queues.js';
import type { Stage } from '../core/stages.js';
import type { TaskData } from '../core/task.js';
import type { Expansion, Item, RunPlan } from './expansion-plan.js';
import { readLines } from './read-lines.js';
import { runFilePath } from '../core/runs/run-files.js';

/** Where expansion of one item file stands: the line being expanded, the next copy of it, the next task index. */
export interface Cursor {
  offset: number;
  sub: number;
  next: number;
}

export interface ExpanderOptions {
  redis: Redis;
  queues: StageQueues;
  prefix: string;
  dataDir: string;
  /** Most tasks of one run enqueued and not yet committed. */
  window: number;
  attempts: number;
}

/**
 * Lazy, windowed fan-out. Tasks are created from item files in steps, only while the run has
 * fewer than `window` tasks in flight, so Redis holds at most a window of tasks per run whatever
 * the run's size. Each step adds jobs with deterministic ids, then commits the cursor: a crash in
 * between re-adds the same ids (a no-op while they exist; a re-run result is dropped as duplicate).
 */
export class Expander {
  constructor(readonly options: ExpanderOptions) {}

  /** Expands as far as the window allows; returns the number of tasks added. */
  async expand(runId: string, plan: RunPlan): Promise<number> {
    const { redis, prefix } = this.options;
    const keys = runKeys(prefix, runId);
    let added = 0;
    for (const expansion of plan.expansions) {
      for (;;) {
        const room = this.options.window - (await this.inflightTotal(runId));
        if (room <= 0) return added;
        const [cursorJson, committed] = await redis.multi().hget(keys.cursors, expansion.source).hget(keys.offsets, expansion.source).exec().then((r) => [r?.[0]?.[1], r?.[1]?.[1]] as [string | null, string | null]);
        const cursor: Cursor = cursorJson ? (JSON.parse(cursorJson) as Cursor) : { offset: 0, sub: 0, next: 0 };
        const step = this.#nextStep(runId, expansion, cursor, Number(committed ?? 0), Math.min(room, 500));
        if (step.tasks.length === 0) break;
        await this.#enqueue(expansion.stage, step.tasks);
        await redis
          .multi()
          .hset(keys.cursors, expansion.source, JSON.stringify(step.cursor))
          .hincrby(keys.inflight, expansion.stage, step.tasks.length)
          .hincrby(keys.stats, `${expansion.stage}:enqueued`, step.tasks.length)
          .exec();
        added += step.tasks.length;
      }
    }
    return added;
  }

  /** Enqueues a root stage's single task (index 0). Idempotent by job id. */
  async enqueueRoot(runId: string, stage: Stage, input: TaskData['input'] = {}): Promise<void> {
    await this.#enqueue(stage, [{ runId, stage, index: 0, input }]);
  }

  async #enqueue(stage: Stage, tasks: TaskData[]): Promise<void> {
    const opts = taskJobOptions(this.options.attempts);
    await this.options.queues[stage].addBulk(
      tasks.map((data) => ({ name: stage, data, opts: { ...opts, jobId: taskJobId(data.runId, stage, data.index) } })),
    );
  }

  #nextStep(runId: string, expansion: Expansion, cursor: Cursor, committed: number, limit: number): { tasks: TaskData[]; cursor: Cursor } {
    const tasks: TaskData[] = [];
    const next = { ...cursor };
    if (next.offset >= committed) return { tasks, cursor: next };
    const path = runFilePath(this.options.dataDir, runId, expansion.source);
    const lines = readLines<Item>(path, next.offset, committed, 256 * 1024);
    for (const line of lines) {
      const copies = expansion.multiplicity(line.value);
      while (next.sub < copies && tasks.length < limit) {
        tasks.push({ runId, stage: expansion.stage, index: next.next, input: expansion.input(line.value, next.sub) });
        next.sub++;
        next.next++;
      }
      if (next.sub < copies) break;
      next.offset = line.end;
      next.sub = 0;
      if (tasks.length >= limit) break;
    }
    return { tasks, cursor: next };
  }

  async inflightTotal(runId: string): Promise<number> {
    const values = await this.options.redis.hvals(runKeys(this.options.prefix, runId).inflight);
    return values.reduce((sum, v) => sum + Number(v), 0);
  }

  /**
   * A run is done when every stage is closed: its parent is closed, its source file fully
   * expanded, and none of its tasks is in flight.
   */
  async isFinished(runId: string, plan: RunPlan): Promise<boolean> {
    const { redis, prefix } = this.options;
    const keys = runKeys(prefix, runId);
    const [inflight, cursors, offsets] = await Promise.all([redis.hgetall(keys.inflight), redis.hgetall(keys.cursors), redis.hgetall(keys.offsets)]);
    if (Object.values(inflight).some((v) => Number(v) > 0)) return false;
    for (const expansion of plan.expansions) {
      const cursor = cursors[expansion.source] ? (JSON.parse(cursors[expansion.source]!) as Cursor) : { offset: 0 };
      if (cursor.offset < Number(offsets[expansion.source] ?? 0)) return false;
    }
    return true;
  }
}
