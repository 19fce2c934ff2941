import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Stage } from '../core/stages.js';
import type { TaskInput } from '../core/task.js';
import type { ItemFile, OutputFile } from '../core/runs/run-files.js';

/** Prompts asked for in one chat-prompts call; more per trait become several tasks. */
export const PROMPTS_PER_CALL = 10;

/**
 * How a run grows. Root stages get one task at start (or are seeded from the spec); every other
 * stage reads its parent's item file and makes `multiplicity` tasks per line. This table is the
 * whole fan-out: the producer streams through it, the commit routes results by it.
 */
export interface Expansion {
  stage: Stage;
  /** The stage whose items feed this one. */
  parent: Stage;
  source: ItemFile;
  multiplicity(item: Item): number;
  input(item: Item, sub: number): TaskInput;
}

export type Item = Record<string, unknown> & TaskInput;

export interface RunPlan {
  roots: { stage: Stage; seeded: boolean; file: ItemFile }[];
  /** Deepest stages first, so a run finishes items before it starts new branches. */
  expansions: Expansion[];
  /** Where each stage's output goes. */
  itemsOf: Partial<Record<Stage, ItemFile>>;
  recordsOf: Partial<Record<Stage, OutputFile>>;
  stages: Stage[];
}

export function planRun(spec: RunSpec): RunPlan {
  const roots: RunPlan['roots'] = [];
  const expansions: Expansion[] = [];
  const itemsOf: RunPlan['itemsOf'] = {};
  const recordsOf: RunPlan['recordsOf'] = {};
  const docs = spec.documents;
  const chats = spec.chats;

  if (docs) {
    roots.push({ stage: 'facts', seeded: Boolean(spec.keyFacts), file: 'facts' });
    itemsOf.facts = 'facts';
    itemsOf['doc-types'] = 'doc-types';
    itemsOf['doc-ideas'] = 'ideas';
    if (docs.revise) {
      itemsOf.documents = 'drafts';
      recordsOf.revise = 'documents';
      expansions.push({ stage: 'revise', parent: 'documents', source: 'drafts', multiplicity: () => 1, input: (item) => ({ ...item }) });
    } else {
      recordsOf.documents = 'documents';
    }
    expansions.push(
      {
        stage: 'documents',
        parent: 'doc-ideas',
        source: 'ideas',
        multiplicity: () => docs.docsPerIdea,
        input: (item, sub) => ({ ...item, d: sub }),
      },
      { stage: 'doc-ideas', parent: 'doc-types', source: 'doc-types', multiplicity: () => 1, input: (item) => ({ ...item, count: docs.ideasPerType }) },
      { stage: 'doc-types', parent: 'facts', source: 'facts', multiplicity: () => 1, input: (item) => ({ ...item, count: docs.docTypesPerFact }) },
    );
  }
  if (chats) {
    roots.push({ stage: 'traits', seeded: Boolean(spec.traits), file: 'traits' });
    itemsOf.traits = 'traits';
    itemsOf['chat-prompts'] = 'prompts';
    recordsOf['chat-responses'] = 'chats';
    const batches = Math.ceil(chats.promptsPerTrait / PROMPTS_PER_CALL);
    expansions.splice(docs?.revise ? 1 : 0, 0, {
      stage: 'chat-responses',
      parent: 'chat-prompts',
      source: 'prompts',
      multiplicity: () => 1,
      input: (item) => ({ ...item }),
    });
    expansions.push({
      stage: 'chat-prompts',
      parent: 'traits',
      source: 'traits',
      multiplicity: () => batches,
      input: (item, sub) => ({
        ...item,
        batch: sub,
        count: Math.min(PROMPTS_PER_CALL, chats.promptsPerTrait - sub * PROMPTS_PER_CALL),
      }),
    });
  }
  const stages = [...roots.map((r) => r.stage), ...expansions.map((e) => e.stage)];
  return { roots, expansions, itemsOf, recordsOf, stages };
}

/** Items a seeded root writes instead of calling the model. */
export function seedItems(spec: RunSpec, stage: Stage): Item[] {
  if (stage === 'facts') return (spec.keyFacts ?? []).map((fact, f) => ({ f, fact }));
  if (stage === 'traits') return (spec.traits ?? []).map((trait, f) => ({ f, trait }));
  return [];
}
