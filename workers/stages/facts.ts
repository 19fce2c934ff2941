import type { StageHandler } from '../stage-context.js';

/** Extracts key facts from the universe: one structured call. */
export const factsStage: StageHandler = async (ctx) => {
  const { value } = await ctx.generateJson<{ facts: string[] }>({ universe: ctx.spec.universe });
  const facts = uniqueNonEmpty(value.facts);
  if (facts.length === 0) return { outcome: 'rejected', rejections: [{ id: 'facts-0', reason: 'empty', detail: 'no facts extracted' }] };
  return { outcome: 'accepted', items: facts.map((fact, f) => ({ f, fact })) };
};

export function uniqueNonEmpty(values: unknown): string[] {
  if (!Array.isArray(values)) return [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const v of values) {
    if (typeof v !== 'string') continue;
    const text = v.trim();
    const key = text.toLowerCase();
    if (text && !seen.has(key)) {
      seen.add(key);
      out.push(text);
    }
  }
  return out;
}
