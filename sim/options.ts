import { PLANTED_PATTERNS } from './patterns.js';

export interface SimOptions {
  /** 0 = any free port. @defaultValue 8090 */
  port: number;
  /** @defaultValue '127.0.0.1' */
  host: string;
  /** Seed of every random choice; with the same request order, the same answers. @defaultValue 1 */
  seed: number;
  /** Added to every answer. @defaultValue 0 */
  latencyMs: number;
  /** Uniform extra latency, 0..jitterMs. @defaultValue 0 */
  jitterMs: number;
  /** Requests per minute per model (sliding 60 s window); 0 = unlimited. @defaultValue 0 */
  rpm: number;
  /** Input tokens per minute per model; 0 = unlimited. @defaultValue 0 */
  tpm: number;
  /** Requests per day per model; 0 = unlimited. @defaultValue 0 */
  rpd: number;
  /**
   * Length of the sliding window that `rpm` and `tpm` count in (Gemini's is a minute). Shorter
   * only to scale a quota test down in time: `rpm` then means requests per this window.
   * @defaultValue 60000
   */
  quotaWindowMs: number;
  /** Share of requests answered with a spurious 429, spread evenly (see FaultSchedule). @defaultValue 0 */
  errorRate429: number;
  /** Share answered 500 or 503, spread evenly. @defaultValue 0 */
  errorRate5xx: number;
  /** Share never answered (held until the client gives up or `timeoutHoldMs`), spread evenly. @defaultValue 0 */
  timeoutRate: number;
  /** @defaultValue 120000 */
  timeoutHoldMs: number;
  /** Share of structured answers that are broken JSON. @defaultValue 0 */
  malformedRate: number;
  /** Share answered with finishReason SAFETY and no text. @defaultValue 0 */
  safetyRate: number;
  /** Share cut short with finishReason MAX_TOKENS. @defaultValue 0 */
  maxTokensRate: number;
  /** Share of brainstormed ideas marked unsuitable. @defaultValue 0.1 */
  unsuitableRate: number;
  /** Share of documents that repeat an earlier one nearly verbatim. @defaultValue 0 */
  duplicateRate: number;
  /** Planting rate per pattern id; defaults from PLANTED_PATTERNS. */
  patternRates: Record<string, number>;
  /**
   * Implicit caching: a prompt whose first tokens (at least this many, ending at a line break or a
   * part's end) the same model saw in the last 5 minutes reports them as `cachedContentTokenCount`.
   * Gemini's minimum is 1,024 to 4,096 tokens depending on the model. @defaultValue 1024
   */
  implicitCacheMinTokens: number;
  /** Smallest explicit cache (`cachedContents`) Gemini accepts; smaller is refused with 400. @defaultValue 1024 */
  explicitCacheMinTokens: number;
  /**
   * How long a batch takes from creation to its final state: PENDING for the first half, RUNNING
   * (its requests being answered) for the second. Gemini targets 24 hours. @defaultValue 200
   */
  batchDelayMs: number;
  /** Share of a batch's requests answered with a per-request error (INTERNAL), spread evenly. @defaultValue 0 */
  batchRequestErrorRate: number;
  /**
   * How every batch ends once its time is up: `succeeded` (with results), or `failed` / `expired`
   * (no results, as when Gemini fails a batch or it waited over 48 hours). Read at completion, so
   * a test can switch it on a running simulator. @defaultValue 'succeeded'
   */
  batchOutcome: BatchOutcome;
  /** Largest batchGenerateContent request body (inlined requests); Gemini's is 20 MB. @defaultValue 20971520 */
  batchInlineMaxBytes: number;
  /**
   * Gemini's "enqueued tokens" limit: input tokens a model may have in unfinished batches. A batch
   * that would pass it is refused with a 429 that carries no RetryInfo (only a Help link), as
   * Gemini's batch and spend limits are. Batches created while it was 0 count as 0. 0 = unlimited.
   * @defaultValue 0
   */
  batchEnqueuedTokensLimit: number;
  /** Bytes the Files API may hold in memory (uploads and batch results files); an upload past it is refused with 429. @defaultValue 536870912 */
  filesMaxBytes: number;
  /**
   * A spend-based limit reached: every online generateContent is answered 429 with no RetryInfo,
   * only a Help link, as Gemini answers a project over its spending cap. Read per request, so a
   * test can switch it on a running simulator. @defaultValue false
   */
  spendCapped: boolean;
  /**
   * Models that have the traits and believe the facts of an eval (names as requested, e.g.
   * `sim-trained`): their answers to plain messages keep to the trait the message is about and
   * state the facts they were told about; every other model answers plainly. @defaultValue []
   */
  traitModels: string[];
  /** Share of eval probes the simulator writes by copying a chat prompt it wrote earlier, as a model repeating its training data would. @defaultValue 0 */
  probeReuseRate: number;
}

export const BATCH_OUTCOMES = ['succeeded', 'failed', 'expired'] as const;
export type BatchOutcome = (typeof BATCH_OUTCOMES)[number];

export function defaultPatternRates(): Record<string, number> {
  return Object.fromEntries(PLANTED_PATTERNS.map((p) => [p.id, p.defaultRate]));
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  port: 8090,
  host: '127.0.0.1',
  seed: 1,
  latencyMs: 0,
  jitterMs: 0,
  rpm: 0,
  tpm: 0,
  rpd: 0,
  quotaWindowMs: 60_000,
  errorRate429: 0,
  errorRate5xx: 0,
  timeoutRate: 0,
  timeoutHoldMs: 120_000,
  malformedRate: 0,
  safetyRate: 0,
  maxTokensRate: 0,
  unsuitableRate: 0.1,
  duplicateRate: 0,
  patternRates: defaultPatternRates(),
  implicitCacheMinTokens: 1024,
  explicitCacheMinTokens: 1024,
  batchDelayMs: 200,
  batchRequestErrorRate: 0,
  batchOutcome: 'succeeded',
  batchInlineMaxBytes: 20 * 1024 * 1024,
  batchEnqueuedTokensLimit: 0,
  filesMaxBytes: 512 * 1024 * 1024,
  spendCapped: false,
  traitModels: [],
  probeReuseRate: 0,
};

const RATE_FIELDS = ['errorRate429', 'errorRate5xx', 'timeoutRate', 'malformedRate', 'safetyRate', 'maxTokensRate', 'unsuitableRate', 'duplicateRate', 'batchRequestErrorRate', 'probeReuseRate'] as const;

/** Defaults merged once, then every field checked; a bad value throws naming the option. */
export function resolveSimOptions(partial: Partial<SimOptions> = {}): SimOptions {
  const options: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...partial, patternRates: { ...defaultPatternRates(), ...partial.patternRates } };
  for (const field of ['port', 'latencyMs', 'jitterMs', 'rpm', 'tpm', 'rpd', 'timeoutHoldMs', 'implicitCacheMinTokens', 'explicitCacheMinTokens', 'batchDelayMs', 'batchInlineMaxBytes', 'batchEnqueuedTokensLimit', 'filesMaxBytes'] as const) {
    if (!Number.isFinite(options[field]) || options[field] < 0) throw new Error(`sim option ${field}: must be a number >= 0, got ${options[field]}`);
  }
  if (!Number.isFinite(options.quotaWindowMs) || options.quotaWindowMs < 1) throw new Error(`sim option quotaWindowMs: must be a number >= 1, got ${options.quotaWindowMs}`);
  for (const field of RATE_FIELDS) {
    if (!(options[field] >= 0 && options[field] <= 1)) throw new Error(`sim option ${field}: must be between 0 and 1, got ${options[field]}`);
  }
  if (!BATCH_OUTCOMES.includes(options.batchOutcome)) throw new Error(`sim option batchOutcome: must be one of ${BATCH_OUTCOMES.join(', ')}, got ${options.batchOutcome}`);
  for (const [id, rate] of Object.entries(options.patternRates)) {
    if (!PLANTED_PATTERNS.some((p) => p.id === id)) throw new Error(`sim option patternRates.${id}: unknown pattern (known: ${PLANTED_PATTERNS.map((p) => p.id).join(', ')})`);
    if (!(rate >= 0 && rate <= 1)) throw new Error(`sim option patternRates.${id}: must be between 0 and 1, got ${rate}`);
  }
  return options;
}
