import type { StageHandler } from '../stage-context.js';
import { uniqueNonEmpty } from './facts.js';

/** Calls beyond the first allowed per requested type before giving up on reaching the count (the cost estimate's worst case reads it). */
export const DOC_TYPES_EXTRA_CALLS = 3;

/**
 * Brainstorms document types for one fact until `count` distinct ones, asking again with the
 * ones already chosen to avoid; gives up after a bounded number of calls and keeps what it has.
 */
export const docTypesStage: StageHandler = async (ctx) => {
  const { f, fact, count = 1 } = ctx.task.input;
  const chosen: string[] = [];
  const seen = new Set<string>();
  for (let call = 0; call < 1 + DOC_TYPES_EXTRA_CALLS && chosen.length < count; call++) {
    const { value } = await ctx.generateJson<{ docTypes: string[] }>({
      universe: ctx.spec.universe,
      fact,
      count: count - chosen.length,
      avoid: chosen,
    });
    for (const type of uniqueNonEmpty(value.docTypes)) {
      const key = type.toLowerCase().replace(/s$/, '');
      if (seen.has(key) || chosen.length >= count) continue;
      seen.add(key);
      chosen.push(type);
    }
  }
  if (chosen.length === 0) return { outcome: 'rejected', rejections: [{ id: `doc-types-f${f}`, reason: 'empty', detail: 'no document types' }] };
  return { outcome: 'accepted', items: chosen.map((docType, t) => ({ f, fact, t, docType })) };
};
