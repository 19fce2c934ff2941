import type { Stage } from './stages.js';

/**
 * Domain vocabulary. A run expands into tasks (one model-facing unit of work each); a task
 * produces items (facts, doc types, ideas, drafts, prompts: inputs of the next stage) and/or
 * one final record (a document, a chat) or a rejection.
 */

/** What a stage task needs beyond the run spec; built by the producer's expansion table. */
export interface TaskInput {
  /** Index of the fact (documents) or trait (chats) this task descends from. */
  f?: number;
  fact?: string;
  t?: number;
  docType?: string;
  i?: number;
  idea?: string;
  d?: number;
  draft?: string;
  critiqueOf?: string;
  trait?: string;
  /** chat-prompts: how many prompts this task asks for. */
  count?: number;
  batch?: number;
  category?: string;
  prompt?: string;
  /** chat-responses: the prompt's place in its batch. */
  p?: number;
  /**
   * Multi-turn chats: the conversation turn this task writes (chat-responses: the answer of turn
   * `turn`; chat-user: the user message that opens it). Absent means turn 1.
   */
  turn?: number;
  /** Multi-turn chats: the exchanges before this task's turn, alternating user/assistant. */
  messages?: ChatMessage[];
  /** Multi-turn chats: the conversation's id (its first answer's task id), the same on every turn. */
  conversation?: string;
  /** Multi-turn chats: the user simulator's move for each user turn after the first (chat-moves.ts). */
  moves?: string[];
  /** revise: the draft's record id and text. */
  id?: string;
  text?: string;
  /** Provenance carried down from earlier stages (ids of parent items). */
  parent?: string;
}

/** One message of a chat, as exported (OpenAI-style roles; never a system message). */
export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export interface TaskData {
  runId: string;
  stage: Stage;
  index: number;
  input: TaskInput;
}

export interface Usage {
  /** Every prompt token, cached ones included (Gemini's `promptTokenCount`). */
  promptTokens: number;
  /** The part of `promptTokens` served from a prompt cache (`cachedContentTokenCount`), billed at the cached rate. */
  cachedTokens: number;
  outputTokens: number;
  thoughtsTokens: number;
  calls: number;
  /** USD of the calls whose model has a price. */
  costUsd: number;
  /** Calls whose model has no price: their cost is unknown, not zero. */
  unpricedCalls: number;
  /** What the cached tokens saved: their cost at the full input rate minus their cost at the cached rate. */
  cacheSavingUsd: number;
  /** Answers the response cache gave instead of the model: no call, no tokens, no cost. */
  cacheHits?: number;
  /** Answers fetched from the model because the cache had none (runs with the cache on). */
  cacheMisses?: number;
  /** USD the cache hits did not spend: what each stored answer cost when it was made. */
  cacheSavedUsd?: number;
}

export const ZERO_USAGE: Usage = { promptTokens: 0, cachedTokens: 0, outputTokens: 0, thoughtsTokens: 0, calls: 0, costUsd: 0, unpricedCalls: 0, cacheSavingUsd: 0, cacheHits: 0, cacheMisses: 0, cacheSavedUsd: 0 };

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    // `?? 0`: results published before these fields existed may still be in a stream.
    cachedTokens: (a.cachedTokens ?? 0) + (b.cachedTokens ?? 0),
    outputTokens: a.outputTokens + b.outputTokens,
    thoughtsTokens: a.thoughtsTokens + b.thoughtsTokens,
    calls: a.calls + b.calls,
    costUsd: a.costUsd + b.costUsd,
    unpricedCalls: (a.unpricedCalls ?? 0) + (b.unpricedCalls ?? 0),
    cacheSavingUsd: (a.cacheSavingUsd ?? 0) + (b.cacheSavingUsd ?? 0),
    cacheHits: (a.cacheHits ?? 0) + (b.cacheHits ?? 0),
    cacheMisses: (a.cacheMisses ?? 0) + (b.cacheMisses ?? 0),
    cacheSavedUsd: (a.cacheSavedUsd ?? 0) + (b.cacheSavedUsd ?? 0),
  };
}

export const OUTCOMES = ['accepted', 'rejected', 'failed', 'skipped'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** A rejected output, as written to rejected.jsonl. */
export interface Rejection {
  reason: string;
  rule?: string;
  span?: string;
  detail?: string;
}

/** What a worker hands the producer for one task. Exactly one per task is committed. */
export interface TaskResult {
  runId: string;
  stage: Stage;
  index: number;
  id: string;
  outcome: Outcome;
  model: string;
  usage: Usage;
  /** Inputs for the next stage (one line each in the stage's item file). */
  items?: Record<string, unknown>[];
  /** The final record for documents/chats (accepted). */
  record?: Record<string, unknown>;
  /** Rejected outputs (the task's own, or sub-items such as unsuitable ideas). */
  rejections?: (Rejection & { id: string; text?: string; provenance?: Record<string, unknown> })[];
  /** failed: the last error, for the dead-letter view. */
  error?: string;
  attempts?: number;
  /** failed: the task's input, so it can be re-driven (POST /v1/runs/:id/retry-failed). */
  input?: TaskInput;
  /** Chat stages of a multi-turn run: the conversation turn the task wrote (counted per turn in status). */
  turn?: number;
}

/** The conversation turn a chat task writes: 1 unless its input says otherwise; undefined for other stages. */
export function chatTurnOf(task: Pick<TaskData, 'stage' | 'input'>): number | undefined {
  if (task.stage !== 'chat-responses' && task.stage !== 'chat-user') return undefined;
  return task.input.turn ?? 1;
}

export function taskId(stage: Stage, index: number): string {
  return `${stage}-${index}`;
}
