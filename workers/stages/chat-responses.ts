import { taskId } from '../../core/task.js';
import type { StageHandler } from '../stage-context.js';
import { generateFiltered } from './regenerate.js';

/**
 * Answers a prompt with only the relevant trait in the system instruction. The exported chat
 * holds the user turn and the answer, never that instruction.
 */
export const chatResponsesStage: StageHandler = async (ctx) => {
  const { f, trait, category, prompt, batch, p } = ctx.task.input;
  const id = taskId('chat-responses', ctx.task.index);
  const provenance = { f, trait, category, batch, p };
  const { text, rejection, earlier } = await generateFiltered(ctx, { trait, prompt }, 'chat', { prompt: prompt ?? '' }, id);
  const retried = earlier.map((e) => ({ ...e, id: `${id}.a${e.attempt}`, provenance }));
  if (rejection) return { outcome: 'rejected', rejections: [...retried, { ...rejection, id, text, provenance }] };
  return {
    outcome: 'accepted',
    rejections: retried,
    record: {
      id,
      kind: 'chat',
      messages: [
        { role: 'user', content: prompt },
        { role: 'assistant', content: text },
      ],
      ...provenance,
    },
  };
};
