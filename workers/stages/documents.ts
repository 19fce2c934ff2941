import { taskId } from '../../core/task.js';
import type { StageHandler } from '../stage-context.js';
import { generateFiltered } from './regenerate.js';

/**
 * Writes one document for an idea; it must read as a real artifact of its type. When the run
 * revises, this is a draft: it enters the corpus statistics provisionally, and its revision
 * takes its place there (one document, one entry).
 */
export const documentsStage: StageHandler = async (ctx) => {
  const { f, fact, t, docType, i, idea, d } = ctx.task.input;
  const id = taskId('documents', ctx.task.index);
  const provenance = { f, t, i, d, fact, docType, idea };
  const { text, rejection, earlier } = await generateFiltered(ctx, { universe: ctx.spec.universe, fact, docType, idea }, 'document', { fact: fact ?? '' }, id, { provisional: Boolean(ctx.spec.documents?.revise) });
  const retried = earlier.map((e) => ({ ...e, id: `${id}.a${e.attempt}`, provenance }));
  if (rejection) return { outcome: 'rejected', rejections: [...retried, { ...rejection, id, text, provenance }] };
  return { outcome: 'accepted', record: { id, kind: 'document', text, ...provenance }, rejections: retried };
};
