/**
 * What one model costs, in US dollars per million tokens. Only `input` and `output` are needed;
 * every other rate has a rule for its default (see resolveModelPrice), so a price file can state
 * just what it knows.
 */
export interface TokenRates {
  /** Prompt tokens not served from a cache. */
  input: number;
  /** Answer tokens (candidates). */
  output: number;
  /** Thinking tokens. @defaultValue `output` (Gemini bills thinking as output) */
  thinking?: number;
  /** Prompt tokens served from a cache (implicit or explicit). @defaultValue 10% of `input` */
  cachedInput?: number;
}

export interface ModelPrice extends TokenRates {
  /**
   * Rates for a call whose prompt (cached tokens included) is longer than `aboveTokens`: the
   * whole call is billed at them, not just the tokens past the threshold (Gemini 2.5 Pro's
   * 200k-token tier works this way). Absent: one tier.
   */
  longContext?: TokenRates & { aboveTokens: number };
  /** Share taken off every rate for Batch API calls. @defaultValue 0.5 */
  batchDiscount?: number;
}

/** Every rate filled in: what the cost function reads. */
export interface ResolvedRates {
  input: number;
  output: number;
  thinking: number;
  cachedInput: number;
}

export interface ResolvedModelPrice {
  rates: ResolvedRates;
  longContext?: ResolvedRates & { aboveTokens: number };
  batchDiscount: number;
}

/** Cached input costs about a tenth of fresh input on every current Gemini model. */
export const CACHED_INPUT_SHARE = 0.1;
export const DEFAULT_BATCH_DISCOUNT = 0.5;

function resolveRates(rates: TokenRates): ResolvedRates {
  return {
    input: rates.input,
    output: rates.output,
    thinking: rates.thinking ?? rates.output,
    cachedInput: rates.cachedInput ?? rates.input * CACHED_INPUT_SHARE,
  };
}

export function resolveModelPrice(price: ModelPrice): ResolvedModelPrice {
  return {
    rates: resolveRates(price),
    ...(price.longContext ? { longContext: { ...resolveRates(price.longContext), aboveTokens: price.longContext.aboveTokens } } : {}),
    batchDiscount: price.batchDiscount ?? DEFAULT_BATCH_DISCOUNT,
  };
}
