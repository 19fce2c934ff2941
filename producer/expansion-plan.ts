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
  /**
   * Multi-turn chats (chat-responses): how many times each parent item is answered in all. The
   * later turns' inputs come back into the same source through chat-user, so the stage has
   * `turns` tasks per parent item and hands `turns - 1` of them on. @defaultValue 1
   */
  turns?: number;
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
  /** Turns of the run's chats (`chats.turns`; 1 without multi-turn chats). */
  chatTurns: number;
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
    const turns = chats.turns ?? 1;
    roots.push({ stage: 'traits', seeded: Boolean(spec.traits), file: 'traits' });
    itemsOf.traits = 'traits';
    itemsOf['chat-prompts'] = 'prompts';
    recordsOf['chat-responses'] = 'chats';
    const batches = Math.ceil(chats.promptsPerTrait / PROMPTS_PER_CALL);
    const chatExpansions: Expansion[] = [];
    if (turns > 1) {
      // A conversation goes round: an answer before the last turn is a line of `conversations`,
      // chat-user's next user message a line of `prompts` again, so chat-responses reads one
      // source (one cursor, one task numbering) whatever the turn. A conversation that ends
      // early (a rejected turn) is written to `chats` by the task that ends it.
      itemsOf['chat-responses'] = 'conversations';
      itemsOf['chat-user'] = 'prompts';
      recordsOf['chat-user'] = 'chats';
      chatExpansions.push({
        stage: 'chat-user',
        parent: 'chat-responses',
        source: 'conversations',
        multiplicity: () => 1,
        input: (item) => ({ ...item, turn: (item.turn ?? 1) + 1 }),
      });
    }
    chatExpansions.push({
      stage: 'chat-responses',
      parent: 'chat-prompts',
      source: 'prompts',
      multiplicity: () => 1,
      input: (item) => ({ ...item }),
      ...(turns > 1 ? { turns } : {}),
    });
    expansions.splice(docs?.revise ? 1 : 0, 0, ...chatExpansions);
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
  return { roots, expansions, itemsOf, recordsOf, stages, chatTurns: spec.chats?.turns ?? 1 };
}

/** Items a seeded root writes instead of calling the model. */
export function seedItems(spec: RunSpec, stage: Stage): Item[] {
  if (stage === 'facts') return (spec.keyFacts ?? []).map((fact, f) => ({ f, fact }));
  if (stage === 'traits') return (spec.traits ?? []).map((trait, f) => ({ f, trait }));
  return [];
}
