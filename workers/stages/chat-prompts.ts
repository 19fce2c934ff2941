import type { StageHandler } from '../stage-context.js';

const CATEGORIES = new Set(['everyday', 'agentic', 'adversarial', 'emotional']);

/** Writes a batch of diverse user messages where one trait matters. */
export const chatPromptsStage: StageHandler = async (ctx) => {
  const { f, trait, batch = 0, count = 1 } = ctx.task.input;
  const { value } = await ctx.generateJson<{ prompts: { category: string; prompt: string }[] }>({ trait, count });
  const seen = new Set<string>();
  const items = [];
  for (const entry of Array.isArray(value.prompts) ? value.prompts : []) {
    const prompt = typeof entry?.prompt === 'string' ? entry.prompt.trim() : '';
    if (!prompt || seen.has(prompt) || items.length >= count) continue;
    seen.add(prompt);
    const category = CATEGORIES.has(entry.category) ? entry.category : 'everyday';
    items.push({ f, trait, batch, p: items.length, category, prompt });
  }
  if (items.length === 0) return { outcome: 'rejected', rejections: [{ id: `prompts-f${f}-b${batch}`, reason: 'empty', detail: 'no prompts' }] };
  return { outcome: 'accepted', items };
};
