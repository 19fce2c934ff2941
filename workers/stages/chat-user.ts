import { taskId, type ChatMessage } from '../../core/task.js';
import type { StageHandler } from '../stage-context.js';
import { CHAT_MOVES, chooseMove } from './chat-moves.js';
import { chatProvenance, chatRecord } from './chat-record.js';

/** The conversation as the user simulator reads it: one labelled block per message. */
export function transcript(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role === 'user' ? 'User' : 'Assistant'}: ${m.content}`).join('\n\n');
}

/** A simulated user's message without the wrapping a model sometimes adds: a `User:` label, quotes. */
export function cleanUserMessage(text: string): string {
  let message = text.trim().replace(/^\*{0,2}user\*{0,2}\s*:\s*(?:\*{2}\s*)?/i, '');
  if (/^"[^"]*"$/s.test(message) || /^“[^”]*”$/s.test(message)) message = message.slice(1, -1).trim();
  return message;
}

/**
 * The user simulator of multi-turn chats: reads the trait and the conversation so far (never the
 * assistant's system instruction) and writes the user's next message, making this turn's move
 * (chat-moves.ts). Its message goes back to chat-responses as the next turn. An empty or cut-off
 * message ends the conversation at the turns answered so far, which this task writes as the chat.
 */
export const chatUserStage: StageHandler = async (ctx) => {
  const input = ctx.task.input;
  const turn = input.turn ?? 2;
  const id = taskId('chat-user', ctx.task.index);
  const messages = input.messages ?? [];
  const conversation = input.conversation ?? id;
  const move = chooseMove({ ...chatProvenance(input), turn }, ctx.spec.seed ?? 0);
  const reply = await ctx.generate({ trait: input.trait, conversation: transcript(messages), move: CHAT_MOVES[move], turn });
  const text = cleanUserMessage(reply.text);
  const reason = text === '' ? 'empty' : reply.finishReason === 'MAX_TOKENS' ? 'truncated' : undefined;
  if (reason) {
    const provenance = { ...chatProvenance(input), conversation, turn, move };
    return {
      outcome: 'rejected',
      rejections: [{ id, reason, rule: 'user-simulator', text, provenance }],
      record: chatRecord(id, input, messages, { conversation, ended: 'rejected' }),
    };
  }
  return { outcome: 'accepted', items: [{ ...chatProvenance(input), conversation, turn, messages, moves: [...(input.moves ?? []), move], prompt: text }] };
};
