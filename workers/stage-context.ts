import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { CheckOptions } from '../core/filters/run-filters.js';
import type { ChatMessage, Rejection, TaskData, TaskResult } from '../core/task.js';

/** A model's answer as the stages see it. */
export interface ModelReply {
  text: string;
  finishReason: string;
  model: string;
}

/** What a stage handler may do: ask the model (plain or structured) and check a text. */
export interface StageContext {
  task: TaskData;
  spec: RunSpec;
  /**
   * Free-text call with the stage's templates filled from `values`; a retry after a rejection runs
   * a little hotter. `history` (multi-turn chats) goes before the rendered user turn as earlier turns.
   */
  generate(values: Record<string, unknown>, options?: { temperatureBoost?: number; history?: ChatMessage[] }): Promise<ModelReply>;
  /** Structured call: returns the parsed JSON, or throws MalformedOutputError. */
  generateJson<T>(values: Record<string, unknown>): Promise<{ value: T; reply: ModelReply }>;
  /**
   * The run's filters for a finished text; null when it passes (and it is then counted in the
   * corpus, under `options.id`, the task's id by default). A draft revise will replace is checked
   * `provisional`; its revision `replaces` it, so the corpus counts the document once.
   */
  check(kind: 'document' | 'chat', text: string, reply: ModelReply, extra?: { prompt?: string; fact?: string }, options?: CheckOptions & { id?: string }): Promise<Rejection | null>;
  /** How many times a filtered-out text may be regenerated (filters.regenerate.attempts). */
  regenerateAttempts: number;
}

/** What a stage returns; the processor adds ids, usage and model. */
export type StageOutcome = Pick<TaskResult, 'outcome' | 'items' | 'record' | 'rejections'>;

export type StageHandler = (ctx: StageContext) => Promise<StageOutcome>;
