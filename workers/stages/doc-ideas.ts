import type { StageHandler } from '../stage-context.js';

/** Brainstorms ideas for one (fact, type); ideas the model marks unsuitable are dropped and recorded. */
export const docIdeasStage: StageHandler = async (ctx) => {
  const { f, fact, t, docType, count = 1 } = ctx.task.input;
  const { value } = await ctx.generateJson<{ ideas: { idea: string; suitable: boolean }[] }>({
    universe: ctx.spec.universe,
    fact,
    docType,
    count,
  });
  const ideas = (Array.isArray(value.ideas) ? value.ideas : []).slice(0, count);
  const items = [];
  const rejections = [];
  for (const [i, entry] of ideas.entries()) {
    const idea = typeof entry?.idea === 'string' ? entry.idea.trim() : '';
    const id = `idea-f${f}-t${t}-i${i}`;
    if (!idea) rejections.push({ id, reason: 'empty', provenance: { f, t, i, fact, docType } });
    else if (entry.suitable === false) rejections.push({ id, reason: 'unsuitable', text: idea, provenance: { f, t, i, fact, docType } });
    else items.push({ f, fact, t, docType, i, idea });
  }
  if (items.length === 0 && rejections.length === 0) {
    return { outcome: 'rejected', rejections: [{ id: `ideas-f${f}-t${t}`, reason: 'empty', detail: 'no ideas' }] };
  }
  return { outcome: 'accepted', items, rejections };
};
