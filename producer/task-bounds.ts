import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Stage } from '../core/stages.js';
import type { TaskInput } from '../core/task.js';
import { planRun, seedItems, type Expansion, type RunPlan } from './expansion-plan.js';

/**
 * The most tasks each stage of a run can have, walked through the run's own expansion plan (the
 * table the producer expands by), so the bound cannot drift from what the producer does. A stage
 * gets `multiplicity` tasks per item of its parent; a task hands at most `maxItemsPerTask` items
 * to the next stage. Where the model decides how many items it returns (facts, traits) the count
 * is an assumption, stated in ASSUMED_*; everywhere else the spec fixes it.
 *
 * Bounds, not predictions: doc-ideas drops ideas the model marks unsuitable, revise runs only on
 * accepted drafts, chat-prompts drops repeated prompts, doc-types gives up short of its count.
 */

/** The facts template asks for "between 3 and 12" facts. */
export const ASSUMED_MAX_FACTS = 12;

/** What a run has done so far in a stage (its ledger counters), to tighten the bound mid-run. */
export interface StageProgress {
  done: number;
  items: number;
}

export interface StageBound {
  /** Most tasks the stage will have (0: seeded from the spec, no model call). */
  tasks: number;
  /** Most items its tasks hand to the next stage, in all. */
  items: number;
  /** Most items one task hands on. */
  maxItemsPerTask: number;
}

/** Bullet lines of a universe, else its sentences: what a traits split is assumed to find. */
export function universeStatements(universe: string): number {
  const bullets = universe.split('\n').filter((line) => /^\s*[-*•]\s+\S/.test(line)).length;
  if (bullets > 0) return bullets;
  return Math.max(1, (universe.match(/[^.!?]+[.!?]/g) ?? [universe]).filter((s) => s.trim()).length);
}

/** Items one task of a stage can hand on, from its input (the spec's counts) or an assumption. */
function maxItemsPerTask(spec: RunSpec, stage: Stage, input: TaskInput): number {
  switch (stage) {
    case 'facts':
      return ASSUMED_MAX_FACTS;
    case 'traits':
      return universeStatements(spec.universe);
    case 'doc-types':
    case 'doc-ideas':
    case 'chat-prompts':
      return input.count ?? 1;
    case 'documents':
      // Drafts for revise; without revise a document is a record, not an item.
      return spec.documents?.revise ? 1 : 0;
    case 'chat-responses':
      // A conversation to go on with (multi-turn); the last turn's answer is a record.
      return (spec.chats?.turns ?? 1) > 1 ? 1 : 0;
    case 'chat-user':
      return 1;
    default:
      return 0;
  }
}

/**
 * Tightens a stage's bound with what it has done: the items of its done tasks are known, only the
 * rest can bring the most. Both are upper bounds, so the smaller is kept.
 */
function tighten(bound: StageBound, progress: StageProgress | undefined): StageBound {
  if (!progress || progress.done <= 0) return bound;
  const tasks = Math.max(bound.tasks, progress.done);
  const items = progress.items + Math.max(0, tasks - progress.done) * bound.maxItemsPerTask;
  return { ...bound, tasks, items: Math.min(bound.items, items) };
}

function expansionBound(spec: RunSpec, expansion: Expansion, parentItems: number): StageBound {
  // Multiplicity and inputs depend on the spec, not on the item's text: one representative item stands for all.
  const item = {};
  const copies = expansion.multiplicity(item);
  let perLine = 0;
  let maxPerTask = 0;
  for (let sub = 0; sub < copies; sub++) {
    const n = maxItemsPerTask(spec, expansion.stage, expansion.input(item, sub));
    perLine += n;
    maxPerTask = Math.max(maxPerTask, n);
  }
  // Multi-turn chats: every parent item is answered `turns` times, and every turn but the last hands one item on.
  const turns = expansion.turns ?? 1;
  const items = turns > 1 ? parentItems * copies * (turns - 1) * maxPerTask : parentItems * perLine;
  return { tasks: parentItems * copies * turns, items, maxItemsPerTask: maxPerTask };
}

/** The bound of every stage of the run, in pipeline order; `progress` tightens it mid-run. */
export function taskBounds(spec: RunSpec, progress: Partial<Record<Stage, StageProgress>> = {}, plan: RunPlan = planRun(spec)): Partial<Record<Stage, StageBound>> {
  const bounds: Partial<Record<Stage, StageBound>> = {};
  for (const root of plan.roots) {
    if (root.seeded) {
      const items = seedItems(spec, root.stage).length;
      bounds[root.stage] = { tasks: 0, items, maxItemsPerTask: 0 };
    } else {
      const perTask = maxItemsPerTask(spec, root.stage, {});
      bounds[root.stage] = tighten({ tasks: 1, items: perTask, maxItemsPerTask: perTask }, progress[root.stage]);
    }
  }
  // Expansions are listed deepest first; resolve each once its parent is known.
  const pending = [...plan.expansions];
  while (pending.length > 0) {
    const at = pending.findIndex((e) => bounds[e.parent] !== undefined);
    if (at === -1) throw new Error(`expansion plan has a stage whose parent never comes: ${pending.map((e) => e.stage).join(', ')}`);
    const [expansion] = pending.splice(at, 1);
    bounds[expansion!.stage] = tighten(expansionBound(spec, expansion!, bounds[expansion!.parent]!.items), progress[expansion!.stage]);
  }
  return bounds;
}
