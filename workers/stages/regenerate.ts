import type { CheckOptions } from '../../core/filters/run-filters.js';
import type { ChatMessage, Rejection } from '../../core/task.js';
import type { ModelReply, StageContext } from '../stage-context.js';

/** Rejections worth another try with feedback; a blocked or empty answer is not the model's style. */
const REGENERABLE = new Set(['audit-pattern', 'placeholder', 'preamble', 'task-header', 'meta-commentary', 'setup-leak', 'ai-disclaimer', 'copied-universe', 'fact-share', 'corpus-opening', 'corpus-name', 'corpus-ngram', 'bottom-line-opening', 'validation-preamble', 'near-duplicate', 'length']);

export interface Attempt {
  text: string;
  reply: ModelReply;
  rejection: Rejection | null;
  /** Rejections of earlier attempts, each kept for rejected.jsonl. */
  earlier: (Rejection & { text: string; attempt: number })[];
}

/**
 * Generates, filters, and when a filter rejects the text and the run allows it, asks again with
 * the reason fed back and a slightly higher temperature, up to `filters.regenerate.attempts`.
 */
export async function generateFiltered(
  ctx: StageContext,
  values: Record<string, unknown>,
  kind: 'document' | 'chat',
  extra: { prompt?: string; fact?: string },
  id: string,
  options: CheckOptions = {},
  /** Multi-turn chats: the exchanges before this turn, sent with every attempt. */
  history?: ChatMessage[],
): Promise<Attempt> {
  const earlier: Attempt['earlier'] = [];
  for (let attempt = 0; ; attempt++) {
    const last = earlier[earlier.length - 1];
    const feedback = last ? `An earlier draft was rejected (${last.reason}${last.span ? `: "${last.span}"` : ''}). Write a new one that avoids this.` : '';
    const reply = await ctx.generate({ ...values, feedback }, { temperatureBoost: attempt * 0.15, ...(history ? { history } : {}) });
    const text = reply.text.trim();
    // Every attempt is checked under the task's id: at most one is admitted, and it is the one a
    // revision will replace by that id.
    const rejection = await ctx.check(kind, text, reply, extra, { id, ...options });
    if (!rejection || attempt >= ctx.regenerateAttempts || !REGENERABLE.has(rejection.reason)) return { text, reply, rejection, earlier };
    earlier.push({ ...rejection, text, attempt });
  }
}
