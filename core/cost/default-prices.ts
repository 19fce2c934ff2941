import type { ModelPrice } from './model-price.js';

/**
 * List prices of the Gemini Developer API, paid tier, text input, USD per million tokens. They are
 * estimates for budgeting and dashboards, not invoices: override them with SDF_PRICES_FILE when
 * Google's page (https://ai.google.dev/gemini-api/docs/pricing) says otherwise.
 *
 * Sources (pages quoting the pricing page, with their dates):
 * - 2.5 Pro, 2.5 Flash, 2.5 Flash-Lite, 3 Flash input/output: the figures issue 10 quotes, which
 *   match the pricing page as summarised by deploybase.ai/articles/gemini-api-pricing (March
 *   2026) and tokencost.app/blog/gemini-3-flash-pricing (April 2026).
 * - 3 Flash cached input $0.05: the pricing page as quoted by
 *   factquire.com/models/google/gemini-3-flash-preview.json (accessed 2026-07-04).
 * - 3 Pro / 3.1 Pro ($2 / $12 up to 200k-token prompts, $4 / $18 above, cached $0.20 / $0.40):
 *   aifreeapi.com/en/posts/gemini-api-token-pricing (March 2026, from the pricing page); 3 Pro
 *   Preview was shut down on 2026-03-09 in favour of 3.1 Pro Preview at the same prices.
 * - 3.1 Flash-Lite ($0.25 / $1.50, cached $0.025): modelpedia.dev/google/gemini-3.1-flash-lite-preview
 *   and macaron.im/blog/gemini-flash-lite-pricing (pricing page of 2026-03-03). There is no
 *   "3 Flash-Lite"; 3.1 Flash-Lite is the Gemini 3 generation's Flash-Lite.
 * - Cached input on the 2.5 models ($0.03 Flash, $0.01 Flash-Lite, $0.125 / $0.25 Pro) is 10%
 *   of input, the rule every source above states; it is left to that default below.
 * - Batch: 50% of every standard rate (the default batchDiscount), as the pricing page states.
 * Thinking tokens are billed as output on every model here (the default).
 */
export const DEFAULT_PRICES: Readonly<Record<string, ModelPrice>> = {
  'gemini-2.5-pro': { input: 1.25, output: 10, longContext: { aboveTokens: 200_000, input: 2.5, output: 15 } },
  'gemini-2.5-flash': { input: 0.3, output: 2.5 },
  'gemini-2.5-flash-lite': { input: 0.1, output: 0.4 },
  'gemini-3-pro': { input: 2, output: 12, cachedInput: 0.2, longContext: { aboveTokens: 200_000, input: 4, output: 18, cachedInput: 0.4 } },
  'gemini-3.1-pro': { input: 2, output: 12, cachedInput: 0.2, longContext: { aboveTokens: 200_000, input: 4, output: 18, cachedInput: 0.4 } },
  'gemini-3-flash': { input: 0.5, output: 3, cachedInput: 0.05 },
  'gemini-3.1-flash-lite': { input: 0.25, output: 1.5, cachedInput: 0.025 },
  'gemini-2.0-flash': { input: 0.1, output: 0.4 },
  'gemini-2.0-flash-lite': { input: 0.075, output: 0.3 },
};
