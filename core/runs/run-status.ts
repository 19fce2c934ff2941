import type { Redis } from 'ioredis';
import { BudgetLedger } from '../budget/budget-ledger.js';
import { runKeys } from '../keys.js';
import type { StageQueues } from '../queues.js';
import { isStage, type Stage } from '../stages.js';
import type { RunMeta, RunStore, RunSummary } from './run-store.js';
import { PromptCacheRecords } from '../prompt-cache/prompt-cache-records.js';
import { readRunSpend, type RunSpend } from '../cost/run-spend.js';
import { BatchStore } from '../batch/batch-store.js';
import { readBatchStatus, type BatchStatus } from '../batch/batch-status.js';
import { readChatTurns, type ChatTurnsStatus } from './chat-turns.js';

export interface StageStatus {
  queued: number;
  active: number;
  done: number;
  accepted: number;
  rejected: number;
  failed: number;
  /** Items handed to the next stage (facts, types, ideas, prompts…). */
  items: number;
  rejectedByReason: Record<string, number>;
}

/** The run's record (without its spec) and its progress. */
export interface RunStatus extends Omit<RunMeta, 'spec'> {
  stages: Partial<Record<Stage, StageStatus>>;
  /** `cached` is the part of `prompt` served from a prompt cache. */
  tokens: { prompt: number; cached: number; output: number; thoughts: number };
  calls: number;
  /** USD of the calls whose model has a price: a lower bound when `unpricedCalls` > 0. */
  costUsd: number;
  /** What cached prompt tokens saved: their cost at the full input rate minus at the cached rate. */
  cacheSavingUsd: number;
  /** Calls, tokens and USD per stage and per model. */
  spend: RunSpend;
  /** Calls of models with no price in the table: their cost is unknown, not zero. */
  unpricedCalls: number;
  unpricedModels: string[];
  /** The response cache for this run: answers it gave (no call, no cost), answers it lacked, USD it saved. */
  cache: { hits: number; misses: number; savedUsd: number };
  deadLetters: number;
  /** The run's budget, when it has one: the cap, what its calls spent, and the worst cases of those in flight. */
  budget?: BudgetStatus;
  /** Batch mode (runs with batch-mode stages): batches by state, requests by where they are. */
  batch?: BatchStatus;
  /** The run's explicit Gemini caches (deleted, and so gone from here, when the run ends). */
  promptCaches: PromptCacheStatus[];
  /** Multi-turn chats (`chats.turns` > 1): answers and user-simulator messages per turn, by outcome. */
  chats?: ChatTurnsStatus;
}

export interface PromptCacheStatus {
  model: string;
  stages: Stage[];
  /** `live`: calls use it; `creating`: on its way; `refused`: Gemini would not make it (calls send the system instruction). */
  state: 'creating' | 'live' | 'refused';
  tokens?: number;
  expireTime?: string;
}

export interface BudgetStatus {
  usd: number;
  spentUsd: number;
  reservedUsd: number;
  /** The call its cap refused, while that refusal stands (the run is or is about to be `budget_exhausted`). */
  refused?: string;
}

function emptyStage(): StageStatus {
  return { queued: 0, active: 0, done: 0, accepted: 0, rejected: 0, failed: 0, items: 0, rejectedByReason: {} };
}

/**
 * A run's progress from its counters, plus tasks active right now from BullMQ (bounded by the
 * farm's concurrency, so this stays cheap however large the run).
 */
export async function readRunStatus(redis: Redis, prefix: string, runs: RunStore, run: RunSummary, queues?: StageQueues): Promise<RunStatus> {
  const keys = runKeys(prefix, run.id);
  const [stats, deadLetters, budget, batch, caches] = await Promise.all([
    runs.stats(run.id),
    redis.hlen(keys.deadLetters),
    new BudgetLedger(redis, prefix).read(run.id),
    readBatchStatus(new BatchStore(redis, prefix), run.id),
    new PromptCacheRecords(redis, prefix).all(run.id),
  ]);
  const stages: Partial<Record<Stage, StageStatus>> = {};
  const stage = (name: string) => (stages[name as Stage] ??= emptyStage());
  for (const [field, value] of Object.entries(stats)) {
    const [name, kind, reason] = field.split(':');
    // Stage counters are `<stage>:<kind>`; the hash also holds tokens, cost, per-model and audit counters.
    if (!name || !kind || !isStage(name)) continue;
    const s = stage(name);
    if (kind === 'reason' && reason) s.rejectedByReason[reason] = value;
    else if (kind === 'enqueued') s.queued += value;
    else if (kind === 'done') s.done = value;
    else if (kind === 'accepted' || kind === 'rejected' || kind === 'failed' || kind === 'items') s[kind] = value;
  }
  if (queues && (run.state === 'running' || run.state === 'queued' || run.state === 'budget_exhausted')) {
    // Task job ids start with the run id, so the active lists' ids (no job data) tell them apart.
    const pipeline = redis.pipeline();
    for (const queue of Object.values(queues)) pipeline.lrange(queue.toKey('active'), 0, -1);
    const replies = (await pipeline.exec()) ?? [];
    const mark = `${run.id}.`;
    for (const [i, name] of Object.keys(queues).entries()) {
      const ids = (replies[i]?.[1] as string[] | undefined) ?? [];
      const mine = ids.reduce((n, id) => (id.startsWith(mark) ? n + 1 : n), 0);
      if (mine > 0) stage(name).active = mine;
    }
  }
  for (const s of Object.values(stages)) s.queued = Math.max(0, s.queued - s.done - s.active);
  const chats = readChatTurns(stats);
  return {
    ...run,
    stages,
    tokens: { prompt: stats['tokens:prompt'] ?? 0, cached: stats['tokens:cached'] ?? 0, output: stats['tokens:output'] ?? 0, thoughts: stats['tokens:thoughts'] ?? 0 },
    calls: stats.calls ?? 0,
    costUsd: stats['cost:usd'] ?? 0,
    cacheSavingUsd: stats['cost:cacheSaving'] ?? 0,
    spend: readRunSpend(stats),
    unpricedCalls: stats['calls:unpriced'] ?? 0,
    unpricedModels: Object.entries(stats)
      .filter(([field, n]) => n > 0 && field.startsWith('model:') && field.endsWith(':unpriced'))
      .map(([field]) => field.slice('model:'.length, -':unpriced'.length)),
    cache: { hits: stats['cache:hits'] ?? 0, misses: stats['cache:misses'] ?? 0, savedUsd: stats['cache:saved:usd'] ?? 0 },
    deadLetters,
    ...(budget.usd !== undefined
      ? { budget: { usd: budget.usd, spentUsd: budget.spentUsd, reservedUsd: budget.reservedUsd, ...(budget.refused ? { refused: budget.refused } : {}) } }
      : {}),
    ...(batch ? { batch } : {}),
    ...(chats ? { chats } : {}),
    promptCaches: [...caches.values()].map((c) => ({ model: c.model, stages: c.stages, state: c.state, ...(c.state === 'live' ? { tokens: c.tokens, expireTime: c.expireTime } : {}) })),
  };
}
