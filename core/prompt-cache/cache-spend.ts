import type { PriceTable } from '../cost/price-table.js';
import type { UsageReport } from '../runs/run-results.js';
import { ZERO_USAGE } from '../task.js';

/**
 * What a run's explicit caches cost, as usage reports of the pseudo-stage `prompt-cache` (counted
 * in the run's cost like any call's). Creating a cache bills its tokens once at the model's input
 * rate (Gemini's caching guide: "billed for the input tokens used to create the cache at the
 * standard input token price"); keeping it bills its tokens per hour at the storage rate.
 */
export function cacheCreationReport(prices: PriceTable | undefined, model: string, tokens: number): UsageReport {
  const costUsd = prices?.costOf(model, { promptTokens: tokens, outputTokens: 0, thoughtsTokens: 0 }) ?? 0;
  return { stage: 'prompt-cache', model, usage: { ...ZERO_USAGE, promptTokens: tokens, costUsd } };
}

/** Storage of `tokens` for `ms`; undefined when there is nothing to report (no time, or no storage price). */
export function cacheStorageReport(prices: PriceTable | undefined, model: string, tokens: number, ms: number): UsageReport | undefined {
  const costUsd = prices?.cacheStorageCostOf(model, tokens, Math.max(0, ms));
  return costUsd ? { stage: 'prompt-cache', model, usage: { ...ZERO_USAGE, costUsd } } : undefined;
}
