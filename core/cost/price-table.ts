import { DEFAULT_PRICES } from './default-prices.js';
import { resolveModelPrice, type ModelPrice, type ResolvedModelPrice } from './model-price.js';
import { normalizeModelName, priceKeys } from './model-name.js';

/** The tokens of one call, as `usageMetadata` reports them. */
export interface CallTokens {
  /** Every prompt token, cached ones included (Gemini's `promptTokenCount`). */
  promptTokens: number;
  /** The part of `promptTokens` served from a cache (`cachedContentTokenCount`). @defaultValue 0 */
  cachedTokens?: number;
  outputTokens: number;
  thoughtsTokens: number;
}

export interface CostOptions {
  /** Priced as a Batch API call (the model's batch discount off every rate). @defaultValue false */
  batch?: boolean;
}

/**
 * USD of one call at a resolved price. The tier is chosen by the whole prompt's size and applies
 * to every token of the call; cached tokens are charged at the cached rate, the rest of the
 * prompt at the input rate, thinking at the thinking rate.
 */
export function callCostUsd(price: ResolvedModelPrice, tokens: CallTokens, options: CostOptions = {}): number {
  const rates = price.longContext && tokens.promptTokens > price.longContext.aboveTokens ? price.longContext : price.rates;
  const cached = Math.min(tokens.cachedTokens ?? 0, tokens.promptTokens);
  const usd = ((tokens.promptTokens - cached) * rates.input + cached * rates.cachedInput + tokens.outputTokens * rates.output + tokens.thoughtsTokens * rates.thinking) / 1_000_000;
  return options.batch ? usd * (1 - price.batchDiscount) : usd;
}

/**
 * Prices per model, looked up by the rule in model-name.ts. A model with no entry has no price:
 * callers count its calls as unpriced, never as free.
 */
export class PriceTable {
  readonly #prices = new Map<string, ResolvedModelPrice>();
  readonly #entries: Record<string, ModelPrice>;

  constructor(prices: Readonly<Record<string, ModelPrice>> = DEFAULT_PRICES) {
    this.#entries = {};
    for (const [model, price] of Object.entries(prices)) {
      const name = normalizeModelName(model);
      this.#entries[name] = price;
      this.#prices.set(name, resolveModelPrice(price));
    }
  }

  /** The table as given (normalised names): for status, docs and `sdf-farm config`. */
  entries(): Readonly<Record<string, ModelPrice>> {
    return this.#entries;
  }

  priceOf(model: string): ResolvedModelPrice | undefined {
    for (const key of priceKeys(model)) {
      const price = this.#prices.get(key);
      if (price) return price;
    }
    return undefined;
  }

  /** USD of one call's tokens, or undefined when the model has no price. */
  costOf(model: string, tokens: CallTokens, options: CostOptions = {}): number | undefined {
    const price = this.priceOf(model);
    return price && callCostUsd(price, tokens, options);
  }

  /**
   * What the call's cached tokens saved: its cost with every prompt token at the input rate,
   * minus its cost as billed. 0 without cached tokens; undefined when the model has no price.
   */
  cacheSavingOf(model: string, tokens: CallTokens, options: CostOptions = {}): number | undefined {
    const price = this.priceOf(model);
    if (!price) return undefined;
    if (!tokens.cachedTokens) return 0;
    return callCostUsd(price, { ...tokens, cachedTokens: 0 }, options) - callCostUsd(price, tokens, options);
  }
}
