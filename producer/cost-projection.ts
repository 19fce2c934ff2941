import { isFinal } from '../core/runs/run-state.js';
import type { RunStatus } from '../core/runs/run-status.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Stage } from '../core/stages.js';
import type { RunEstimate } from './run-estimate.js';
import { taskBounds, type StageProgress } from './task-bounds.js';

/**
 * What a run has cost so far and what it will have cost when it ends, from what remains: per
 * stage, spent + (most tasks still to come) × (the stage's mean USD per done task so far, or the
 * estimate's typical USD per task while none is done). The most tasks still to come is the
 * fan-out bound tightened by the run's progress (task-bounds.ts), so it shrinks to exactly what
 * is left as parent stages finish; a finished run's projection is its spend.
 */
export interface StageProjection {
  model: string;
  /** Most tasks of the stage, given the progress so far. */
  tasks: number;
  done: number;
  remaining: number;
  spentUsd: number;
  /** USD per task the remaining ones are projected at. */
  usdPerTask: number;
  /** `observed`: the stage's own mean so far; `estimate`: the dry-run estimate's typical task. */
  basis: 'observed' | 'estimate';
  projectedUsd: number;
}

export interface CostProjection {
  /** USD of every call so far (the audit's included); a lower bound when some models are unpriced. */
  spentUsd: number;
  projectedUsd: number;
  stages: Partial<Record<Stage, StageProjection>>;
  /** Models whose calls cannot be priced: their share is missing from both figures. */
  unpricedModels: string[];
}

export function projectRunCost(spec: RunSpec, status: Pick<RunStatus, 'state' | 'stages' | 'spend' | 'costUsd' | 'unpricedModels'>, estimate: RunEstimate): CostProjection {
  const progress: Partial<Record<Stage, StageProgress>> = {};
  for (const [stage, s] of Object.entries(status.stages)) progress[stage as Stage] = { done: s.done, items: s.items };
  const bounds = taskBounds(spec, progress);
  const finished = isFinal(status.state);
  const stages: Partial<Record<Stage, StageProjection>> = {};
  let projectedUsd = status.costUsd;
  for (const [name, estimated] of Object.entries(estimate.stages)) {
    const stage = name as Stage;
    const done = status.stages[stage]?.done ?? 0;
    const spentUsd = status.spend.stages[stage]?.usd ?? 0;
    const tasks = Math.max(bounds[stage]?.tasks ?? estimated.tasks, done);
    const remaining = finished ? 0 : tasks - done;
    const observed = done > 0;
    const usdPerTask = observed ? spentUsd / done : (estimated.usdPerTask?.low ?? 0);
    const future = remaining * usdPerTask;
    projectedUsd += future;
    stages[stage] = { model: estimated.model, tasks, done, remaining, spentUsd, usdPerTask, basis: observed ? 'observed' : 'estimate', projectedUsd: spentUsd + future };
  }
  return {
    spentUsd: status.costUsd,
    projectedUsd,
    stages,
    unpricedModels: [...new Set([...status.unpricedModels, ...estimate.unpricedModels])],
  };
}
