import type { StageHandler } from '../stage-context.js';
import { uniqueNonEmpty } from './facts.js';

/** Splits the universe into traits: one structured call. */
export const traitsStage: StageHandler = async (ctx) => {
  const { value } = await ctx.generateJson<{ traits: string[] }>({ universe: ctx.spec.universe });
  const traits = uniqueNonEmpty(value.traits);
  if (traits.length === 0) return { outcome: 'rejected', rejections: [{ id: 'traits-0', reason: 'empty', detail: 'no traits extracted' }] };
  return { outcome: 'accepted', items: traits.map((trait, f) => ({ f, trait })) };
};
