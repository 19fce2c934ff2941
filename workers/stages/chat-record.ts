import type { ChatMessage, TaskInput } from '../../core/task.js';

/** How a multi-turn conversation ended: every turn answered, or a turn rejected (the record keeps the turns before it). */
export type ChatEnding = 'complete' | 'rejected';

/** The conversation's coordinates, carried from turn to turn and into its record. */
export function chatProvenance(input: TaskInput) {
  const { f, trait, category, batch, p } = input;
  return { f, trait, category, batch, p };
}

/**
 * A chat as written to chats.jsonl: alternating user/assistant messages, never the system
 * instruction. Multi-turn runs add the conversation's id, its number of turns, how it ended and
 * the user simulator's moves; a single-turn chat keeps its original shape.
 */
export function chatRecord(id: string, input: TaskInput, messages: ChatMessage[], multiTurn: { conversation: string; ended: ChatEnding } | undefined): Record<string, unknown> {
  const base = { id, kind: 'chat', messages, ...chatProvenance(input) };
  if (!multiTurn) return base;
  const turns = messages.length / 2;
  // The moves of the user turns kept: a turn the conversation ended on is not in it.
  return { ...base, conversation: multiTurn.conversation, turns, ended: multiTurn.ended, moves: (input.moves ?? []).slice(0, turns - 1) };
}
