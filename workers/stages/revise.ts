import { taskId } from '../../core/task.js';
import type { StageHandler } from '../stage-context.js';

/**
 * Critiques then rewrites a draft; the critique stays in the record, the rewrite is the text. The
 * rewrite replaces its draft in the corpus statistics: an edit is not a near-duplicate of the
 * text it edits, and its opening and names are counted once, not once per version.
 */
export const reviseStage: StageHandler = async (ctx) => {
  const { f, t, i, d, fact, docType, idea, id: draftId, text: draft = '' } = ctx.task.input;
  const { value, reply } = await ctx.generateJson<{ critique: string; document: string }>({
    universe: ctx.spec.universe,
    docType,
    document: draft,
  });
  const id = taskId('revise', ctx.task.index);
  const provenance = { f, t, i, d, fact, docType, idea, draftId };
  const text = typeof value.document === 'string' ? value.document.trim() : '';
  const replaces = draftId ? { replaces: { id: draftId, text: draft } } : {};
  const rejection = await ctx.check('document', text, reply, { fact: fact ?? '' }, replaces);
  if (rejection) return { outcome: 'rejected', rejections: [{ ...rejection, id, text, provenance }] };
  return { outcome: 'accepted', record: { id, kind: 'document', text, critique: String(value.critique ?? ''), ...provenance } };
};
