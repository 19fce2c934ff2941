import { taskId, type ChatMessage } from '../../core/task.js';
import type { StageHandler } from '../stage-context.js';
import { chatProvenance, chatRecord } from './chat-record.js';
import { generateFiltered } from './regenerate.js';

/**
 * Answers a user message with only the relevant trait in the system instruction. The exported
 * chat holds the user turns and the answers, never that instruction.
 *
 * Multi-turn chats (`chats.turns` > 1): the exchanges before this turn travel in the task's input
 * and are sent as earlier `contents`. An accepted answer before the last turn hands the
 * conversation on (to chat-user, for the next user message); the last turn's answer writes the
 * chat. A rejected answer ends the conversation at its last accepted turn: the chat is written
 * without this turn (turn 1 rejected: no chat, as with single turns).
 */
export const chatResponsesStage: StageHandler = async (ctx) => {
  const input = ctx.task.input;
  const { trait, prompt } = input;
  const id = taskId('chat-responses', ctx.task.index);
  const turns = ctx.spec.chats?.turns ?? 1;
  const turn = input.turn ?? 1;
  const history = input.messages ?? [];
  const conversation = input.conversation ?? id;
  const multiTurn = turns > 1;
  const provenance = multiTurn ? { ...chatProvenance(input), conversation, turn } : chatProvenance(input);
  const { text, rejection, earlier } = await generateFiltered(ctx, { trait, prompt }, 'chat', { prompt: prompt ?? '' }, id, {}, history);
  const retried = earlier.map((e) => ({ ...e, id: `${id}.a${e.attempt}`, provenance }));
  if (rejection) {
    const rejections = [...retried, { ...rejection, id, text, provenance }];
    if (history.length === 0) return { outcome: 'rejected', rejections };
    return { outcome: 'rejected', rejections, record: chatRecord(id, input, history, { conversation, ended: 'rejected' }) };
  }
  const messages: ChatMessage[] = [...history, { role: 'user', content: prompt ?? '' }, { role: 'assistant', content: text }];
  if (turn < turns) {
    return { outcome: 'accepted', rejections: retried, items: [{ ...chatProvenance(input), conversation, turn, messages, moves: input.moves ?? [] }] };
  }
  return { outcome: 'accepted', rejections: retried, record: chatRecord(id, input, messages, multiTurn ? { conversation, ended: 'complete' } : undefined) };
};
