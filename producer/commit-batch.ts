import type { CommitBatch } from '../core/runs/run-ledger.js';
import type { ResultEntry } from '../core/runs/run-results.js';
import type { RunFile } from '../core/runs/run-files.js';
import type { Stage } from '../core/stages.js';
import { chatTurnOf, type TaskResult, type Usage } from '../core/task.js';
import type { RunPlan } from './expansion-plan.js';
import { chatTurnCounter } from '../core/runs/chat-turns.js';

/**
 * Turns a batch of stream entries into what one ledger commit writes: the lines each file gets,
 * the done bits, the counters (summed over the batch), dead letters. Pure: no I/O, so the same
 * batch always gives the same commit.
 */
export interface PlannedBatch {
  batch: CommitBatch;
  writes: Map<RunFile, unknown[]>;
  /** Results committed (first delivery of a task not done before). */
  committed: TaskResult[];
  duplicates: number;
}

/**
 * `done[i]` says whether entry i's task was committed before this batch (ignored for usage
 * entries). `dropResults` (a cancelled run) consumes results without committing them; spend is
 * counted either way, since those calls were made.
 */
export function planBatch(entries: ResultEntry[], done: boolean[], plan: RunPlan, dropResults: boolean): PlannedBatch {
  const counters: Record<string, number> = {};
  const floats: Record<string, number> = {};
  const writes = new Map<RunFile, unknown[]>();
  const deadLetters: Record<string, string> = {};
  const committed: TaskResult[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  const inc = (field: string, by = 1) => {
    if (by !== 0) counters[field] = (counters[field] ?? 0) + by;
  };
  const write = (file: RunFile | undefined, records: unknown[]) => {
    if (!file || records.length === 0) return;
    const lines = writes.get(file);
    if (lines) lines.push(...records);
    else writes.set(file, [...records]);
  };
  const addFloat = (field: string, x: number | undefined) => {
    if (x) floats[field] = (floats[field] ?? 0) + x;
  };
  // Run totals, then the same per model (`model:<m>:…`) and per stage (`spend:<stage>:…`, the
  // audit's calls under `spend:audit:…`), all in the batch's one commit: counted exactly once.
  const spend = (stage: string, model: string, usage: Usage) => {
    inc('tokens:prompt', usage.promptTokens);
    inc('tokens:cached', usage.cachedTokens ?? 0);
    inc('tokens:output', usage.outputTokens);
    inc('tokens:thoughts', usage.thoughtsTokens);
    inc('calls', usage.calls);
    inc('calls:unpriced', usage.unpricedCalls ?? 0);
    addFloat('cost:usd', usage.costUsd);
    addFloat('cost:cacheSaving', usage.cacheSavingUsd);
    for (const scope of [`model:${model}`, `spend:${stage}`]) {
      inc(`${scope}:calls`, usage.calls);
      inc(`${scope}:prompt`, usage.promptTokens);
      inc(`${scope}:cached`, usage.cachedTokens ?? 0);
      inc(`${scope}:output`, usage.outputTokens);
      inc(`${scope}:thoughts`, usage.thoughtsTokens);
      inc(`${scope}:unpriced`, usage.unpricedCalls ?? 0);
      addFloat(`${scope}:usd`, usage.costUsd);
      addFloat(`${scope}:cacheSaving`, usage.cacheSavingUsd);
    }
    inc('cache:hits', usage.cacheHits ?? 0);
    inc('cache:misses', usage.cacheMisses ?? 0);
    if (usage.cacheSavedUsd) floats['cache:saved:usd'] = (floats['cache:saved:usd'] ?? 0) + usage.cacheSavedUsd;
  };

  entries.forEach((entry, i) => {
    if (entry.kind === 'usage') {
      spend(entry.report.stage, entry.report.model, entry.report.usage);
      return;
    }
    const result = entry.result;
    spend(result.stage, result.model, result.usage);
    const key = `${result.stage}:${result.index}`;
    if (dropResults || done[i] || seen.has(key)) {
      duplicates++;
      return;
    }
    seen.add(key);
    committed.push(result);
    for (const [field, by] of Object.entries(outcomeCounters(result))) inc(field, by);
    // Multi-turn chats are counted per turn as well; a failed result made without the worker (a
    // lost or given-up task) names its turn only in its input.
    const turn = plan.chatTurns > 1 ? (result.turn ?? chatTurnOf({ stage: result.stage, input: result.input ?? {} })) : undefined;
    if (turn) inc(chatTurnCounter(turn, result.stage, result.outcome));
    if (result.outcome === 'accepted') {
      write(plan.itemsOf[result.stage], (result.items ?? []).map((item) => ({ ...item, src: result.id })));
      if (result.record) write(plan.recordsOf[result.stage] ?? plan.itemsOf[result.stage], [result.record]);
    } else if (result.outcome === 'rejected' && result.record) {
      // A multi-turn chat whose turn was rejected: the turns accepted before it are the chat.
      write(plan.recordsOf[result.stage], [result.record]);
    }
    write(
      'rejected',
      (result.rejections ?? []).map((r) => ({ ...r, stage: result.stage, model: result.model, task: result.id })),
    );
    if (result.outcome === 'failed') {
      deadLetters[key] = JSON.stringify({ id: result.id, stage: result.stage, index: result.index, error: result.error, attempts: result.attempts, input: result.input ?? {} });
    }
  });

  return {
    batch: {
      done: committed.map((r) => ({ stage: r.stage, index: r.index })),
      offsets: {},
      counters,
      floatCounters: floats,
      deadLetters,
      consumed: entries.map((e) => e.id),
    },
    writes,
    committed,
    duplicates,
  };
}

/** What a committed result adds to its stage's counters. */
function outcomeCounters(result: TaskResult): Record<string, number> {
  const c: Record<string, number> = {};
  const inc = (field: string, by = 1) => {
    if (by !== 0) c[field] = (c[field] ?? 0) + by;
  };
  const s: Stage = result.stage;
  inc(`${s}:done`);
  inc(`${s}:${result.outcome}`);
  inc(`${s}:items`, result.items?.length ?? 0);
  for (const r of result.rejections ?? []) inc(`${s}:reason:${r.reason}`);
  if (result.outcome === 'accepted') inc(`${s}:itemsRejected`, result.rejections?.length ?? 0);
  return c;
}
