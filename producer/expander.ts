import type { Redis } from 'ioredis';
import { runKeys } from '../core/keys.js';
import { taskJobId, taskJobOptions, type StageQueues } from '../core/queues.js';
import type { RunLedger } from '../core/runs/run-ledger.js';
import type { Stage } from '../core/stages.js';
import type { TaskData, TaskInput } from '../core/task.js';
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
  ledger: RunLedger;
  queues: StageQueues;
  prefix: string;
  dataDir: string;
  /** Most tasks of one run enqueued and not yet committed. */
  window: number;
  /** Expansion waits until fewer than this many are in flight, then refills up to `window`. @defaultValue window / 2 */
  lowWatermark?: number;
  attempts: number;
}

/** Tasks added to the queue in one step (one addBulk, one cursor commit). */
const STEP = 500;

/**
 * Lazy, windowed fan-out. Tasks are created from item files in chunks: when a run's tasks in
 * flight fall below the low watermark, the backlog is refilled up to the window, so Redis holds at
 * most a window of tasks per run whatever the run's size, and item files are read a chunk at a
 * time, not once per task. Each step adds jobs with deterministic ids, then commits the cursor
 * (fenced by the run's lease): a crash in between re-adds the same ids (a no-op while they exist;
 * a re-run's result is dropped as a duplicate).
 */
export class Expander {
  readonly lowWatermark: number;

  constructor(readonly options: ExpanderOptions) {
    this.lowWatermark = options.lowWatermark ?? Math.max(1, Math.floor(options.window / 2));
  }

  /**
   * Refills the run's backlog if it is below the low watermark; returns the number of tasks added.
   * `known` is the run's in-flight count per stage if the caller has just read it.
   */
  async expand(runId: string, plan: RunPlan, token: string, known?: Record<string, number>): Promise<number> {
    let inflight = sum(known ?? (await this.options.ledger.inflight(runId, plan.stages)));
    if (inflight >= this.lowWatermark) return 0;
    const { redis, prefix } = this.options;
    const keys = runKeys(prefix, runId);
    let added = 0;
    for (const expansion of plan.expansions) {
      for (;;) {
        const room = this.options.window - inflight;
        if (room <= 0) return added;
        const replies = (await redis.pipeline().hget(keys.cursors, expansion.source).hget(keys.offsets, expansion.source).exec()) ?? [];
        const [cursorJson, committed] = replies.map(([, value]) => value as string | null);
        const cursor: Cursor = cursorJson ? (JSON.parse(cursorJson) as Cursor) : { offset: 0, sub: 0, next: 0 };
        const step = this.#nextStep(runId, expansion, cursor, Number(committed ?? 0), Math.min(room, STEP));
        if (step.tasks.length === 0) break;
        await this.#enqueue(expansion.stage, step.tasks);
        await this.options.ledger.expanded(runId, token, expansion.stage, expansion.source, step.cursor, step.tasks.length);
        added += step.tasks.length;
        inflight += step.tasks.length;
      }
    }
    return added;
  }

  /** Enqueues a root stage's single task (index 0). Idempotent by job id. */
  async enqueueRoot(runId: string, stage: Stage, input: TaskData['input'] = {}): Promise<void> {
    await this.#enqueue(stage, [{ runId, stage, index: 0, input }]);
  }

  /** Enqueues tasks again under a new job-id generation (a re-drive or a repair). */
  async enqueueAgain(tasks: (TaskData & { generation: number })[]): Promise<void> {
    const opts = taskJobOptions(this.options.attempts);
    for (const { generation, ...data } of tasks) {
      await this.options.queues[data.stage].add(data.stage, data, { ...opts, jobId: taskJobId(data.runId, data.stage, data.index, generation) });
    }
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

  /**
   * The inputs of already-enqueued tasks, found again by replaying the stage's expansion from the
   * start of its source file (deterministic: same lines, same order, same indices). Costs a read
   * of the file, so it is for repairs of lost tasks, never the hot path.
   */
  async inputsOf(runId: string, plan: RunPlan, stage: Stage, indices: number[]): Promise<Map<number, TaskInput>> {
    const found = new Map<number, TaskInput>();
    const expansion = plan.expansions.find((e) => e.stage === stage);
    if (!expansion) {
      for (const index of indices) if (index === 0) found.set(0, {});
      return found;
    }
    const wanted = new Set(indices);
    const keys = runKeys(this.options.prefix, runId);
    const cursorJson = await this.options.redis.hget(keys.cursors, expansion.source);
    if (!cursorJson) return found;
    const end = (JSON.parse(cursorJson) as Cursor).next;
    const committed = Number((await this.options.redis.hget(keys.offsets, expansion.source)) ?? 0);
    let cursor: Cursor = { offset: 0, sub: 0, next: 0 };
    while (cursor.next < end && found.size < wanted.size) {
      const step = this.#nextStep(runId, expansion, cursor, committed, STEP);
      if (step.tasks.length === 0) break;
      for (const task of step.tasks) if (wanted.has(task.index)) found.set(task.index, task.input);
      cursor = step.cursor;
    }
    return found;
  }
}

function sum(values: Record<string, number>): number {
  return Object.values(values).reduce((a, b) => a + b, 0);
}
