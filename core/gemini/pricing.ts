/**
 * Approximate public list prices, USD per million tokens (standard tier, prompts up to 200k
 * tokens). Estimates for budgeting and dashboards, not invoices: check current pricing. Thinking
 * tokens are billed as output. A model not in the table has no price: its calls are counted as
 * unpriced (in status and metrics), never as free.
 */
export const PRICES_PER_MILLION: Record<string, { input: number; output: number }> = {
  'gemini-2.5-pro': { input: 1.25, output: 10 },
  'gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
  'gemini-2.0-flash': { input: 0.1, output: 0.4 },
  'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
};

/** USD of one call's usage, or undefined when the model has no price. */
export function estimateCostUsd(model: string, usage: { promptTokens: number; outputTokens: number; thoughtsTokens: number }): number | undefined {
  const price = PRICES_PER_MILLION[model];
  if (!price) return undefined;
  return (usage.promptTokens * price.input + (usage.outputTokens + usage.thoughtsTokens) * price.output) / 1_000_000;
}
