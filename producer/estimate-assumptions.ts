import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Stage } from '../core/stages.js';
import { DOC_TYPES_EXTRA_CALLS } from '../workers/stages/doc-types.js';
import { PROMPTS_PER_CALL } from './expansion-plan.js';
import { ASSUMED_MAX_FACTS, universeStatements } from './task-bounds.js';

/**
 * What the cost estimate assumes where the spec cannot say: the length of text a model will
 * generate earlier in the run (a fact, an idea, a draft) and the typical length of each stage's
 * answer. Each figure is stated once here, and ASSUMPTIONS says them in words for the estimate's
 * reader. Token counts of text use the farm's own rule: about 4 characters a token.
 */
export const CHARS_PER_TOKEN = 4;

/** Lengths, in characters, of generated inputs the spec does not give. */
const ASSUMED_CHARS = {
  fact: 120,
  docType: 25,
  idea: 300,
  trait: 150,
  prompt: 300,
};

/** Typical answer length in tokens (the low end of the range); the high end is the stage's output cap. */
function typicalOutputTokens(spec: RunSpec, stage: Stage): number {
  const docs = spec.documents;
  switch (stage) {
    case 'facts':
      return ASSUMED_MAX_FACTS * 30;
    case 'traits':
      return universeStatements(spec.universe) * 40;
    case 'doc-types':
      return 10 + (docs?.docTypesPerFact ?? 1) * 8;
    case 'doc-ideas':
      return 10 + (docs?.ideasPerType ?? 1) * 75;
    case 'documents':
      return 1000;
    case 'revise':
      return 1250;
    case 'chat-prompts':
      return 10 + Math.min(PROMPTS_PER_CALL, spec.chats?.promptsPerTrait ?? 1) * 60;
    case 'chat-responses':
      return 500;
    case 'chat-user':
      return 80;
  }
}

/**
 * Multi-turn chats: characters of the exchanges a call resends, a user message and a typical
 * answer each. chat-responses resends 0 to `turns - 1` exchanges (mean: half of the most);
 * chat-user reads 1 to `turns - 1`. `answerTokens` sets the answers' length.
 */
function conversationChars(spec: RunSpec, stage: 'chat-responses' | 'chat-user', answerTokens: number): { mean: number; most: number } {
  const turns = spec.chats?.turns ?? 1;
  const exchange = ASSUMED_CHARS.prompt + answerTokens * CHARS_PER_TOKEN;
  const most = (turns - 1) * exchange;
  return { mean: stage === 'chat-responses' ? most / 2 : (turns * exchange) / 2, most };
}

export const ASSUMPTIONS = [
  'tasks are upper bounds from the spec\'s fan-out: no idea marked unsuitable, every draft revised, every document type and chat prompt found',
  `facts extraction finds at most ${ASSUMED_MAX_FACTS} facts (its template asks for 3 to 12); traits splitting finds one trait per bullet line (else sentence) of the universe`,
  `text is about ${CHARS_PER_TOKEN} characters a token; generated inputs not in the spec are assumed ${ASSUMED_CHARS.fact} characters a fact, ${ASSUMED_CHARS.docType} a document type, ${ASSUMED_CHARS.idea} an idea, ${ASSUMED_CHARS.trait} a trait, ${ASSUMED_CHARS.prompt} a chat prompt`,
  'low: one call per task and a typical answer (facts 30 tokens each, types 8, ideas 75, documents 1,000, revisions 1,250, chat prompts 60, chat answers 500, simulated user messages 80) with no thinking tokens',
  'multi-turn chats: every conversation reaches its last turn (no turn rejected); a turn resends the conversation before it, on average half of it with typical answers (low), all of it with every answer at its cap (high)',
  `high: every retry a task may make (doc-types up to ${1 + DOC_TYPES_EXTRA_CALLS} calls, documents and chat answers 1 + filters.regenerate.attempts) and every call using its whole output cap (maxOutputTokens, which thinking tokens count against)`,
  'prompt caching is not counted (it can only lower the cost); failed attempts that are retried, and pattern audits, are not included',
];

export interface StageAssumption {
  /** Values the stage's templates are rendered with (the same names the stage handlers pass). */
  values: Record<string, unknown>;
  /** The same with the longest inputs (a revised draft as long as the documents stage's cap). */
  longestValues: Record<string, unknown>;
  typicalOutputTokens: number;
  maxCallsPerTask: number;
}

function meanLength(texts: readonly string[] | undefined, fallback: number): number {
  if (!texts || texts.length === 0) return fallback;
  return Math.round(texts.reduce((n, s) => n + s.length, 0) / texts.length);
}

/** Filler of a given length: only its length matters to a character-based token count. */
function text(chars: number): string {
  return 'x'.repeat(Math.max(0, chars));
}

/** The assumed inputs, typical answer and most calls of one task of a stage. */
export function stageAssumption(spec: RunSpec, stage: Stage, outputCaps: Partial<Record<Stage, number>>): StageAssumption {
  const fact = text(meanLength(spec.keyFacts, ASSUMED_CHARS.fact));
  const trait = text(meanLength(spec.traits, ASSUMED_CHARS.trait));
  const docType = text(ASSUMED_CHARS.docType);
  const regenerate = 1 + resolveFilterSpec(spec.filters).regenerate.attempts;
  const universe = spec.universe;
  const draft = (tokens: number) => text(tokens * CHARS_PER_TOKEN);
  const typical = Math.min(typicalOutputTokens(spec, stage), outputCaps[stage] ?? Infinity);
  const base = { typicalOutputTokens: typical, maxCallsPerTask: 1 };
  switch (stage) {
    case 'facts':
    case 'traits':
      return { ...base, values: { universe }, longestValues: { universe } };
    case 'doc-types': {
      const values = { universe, fact, count: spec.documents?.docTypesPerFact ?? 1, avoid: [] };
      return { ...base, maxCallsPerTask: 1 + DOC_TYPES_EXTRA_CALLS, values, longestValues: values };
    }
    case 'doc-ideas': {
      const values = { universe, fact, docType, count: spec.documents?.ideasPerType ?? 1 };
      return { ...base, values, longestValues: values };
    }
    case 'documents': {
      const values = { universe, fact, docType, idea: text(ASSUMED_CHARS.idea), feedback: '' };
      return { ...base, maxCallsPerTask: regenerate, values, longestValues: values };
    }
    case 'revise': {
      const documentsTypical = Math.min(typicalOutputTokens(spec, 'documents'), outputCaps.documents ?? Infinity);
      return {
        ...base,
        values: { universe, docType, document: draft(documentsTypical) },
        longestValues: { universe, docType, document: draft(outputCaps.documents ?? documentsTypical) },
      };
    }
    case 'chat-prompts': {
      const values = { trait, count: Math.min(PROMPTS_PER_CALL, spec.chats?.promptsPerTrait ?? 1) };
      return { ...base, values, longestValues: values };
    }
    case 'chat-responses': {
      // The earlier turns count as prompt length: only the character count matters here.
      const answers = { typical: typicalOutputTokens(spec, stage), cap: outputCaps[stage] ?? typicalOutputTokens(spec, stage) };
      const values = { universe, trait, prompt: text(ASSUMED_CHARS.prompt + conversationChars(spec, stage, answers.typical).mean), feedback: '' };
      const longestValues = { ...values, prompt: text(ASSUMED_CHARS.prompt + conversationChars(spec, stage, answers.cap).most) };
      return { ...base, maxCallsPerTask: regenerate, values, longestValues };
    }
    case 'chat-user': {
      const answers = { typical: typicalOutputTokens(spec, 'chat-responses'), cap: outputCaps['chat-responses'] ?? typicalOutputTokens(spec, 'chat-responses') };
      const at = (chars: number) => ({ trait, conversation: text(chars), move: text(150), turn: 2 });
      return { ...base, values: at(conversationChars(spec, stage, answers.typical).mean), longestValues: at(conversationChars(spec, stage, answers.cap).most) };
    }
  }
}
