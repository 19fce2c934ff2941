import { randomBytes } from 'node:crypto';
import { CACHE_NOT_FOUND, type CachedContent, type CachedContentStore } from './cached-contents.js';
import { detectStage } from './detect-stage.js';
import { failure, type ApiFailure } from './http.js';
import { ImplicitCache } from './implicit-cache.js';
import type { SimMetrics } from './metrics.js';
import type { SimOptions } from './options.js';
import { invalidRole, lastUserText, normalizeRequest, promptLines, promptPieces, textOf, tokensOfLines, type GenerateRequest, type PromptLine } from './prompt.js';
import { Random, hash32 } from './random.js';
import { respond, type SimMemory } from './respond.js';
import { countTokens, truncateToTokens } from './tokens.js';

/** A request read and checked, ready to be answered. */
export interface Prompt {
  model: string;
  request: GenerateRequest;
  /** The request's own system instruction and contents, line by line, counted (what implicit caching compares). */
  lines: PromptLine[];
  /** What the answer generators read: the cache's text first when the request uses one. */
  system: string;
  user: string;
  /** The request's own contents, which seed its answer. */
  ownUser: string;
  /** `promptTokenCount`: the request's tokens plus its explicit cache's. */
  tokens: number;
  cache?: CachedContent;
}

/** Tokens answered from a cache, by kind: a hit is a request that reported any. */
export interface CachingStats {
  implicit: { hits: number; tokens: number };
  explicit: { hits: number; tokens: number };
}

export interface GenerationStats {
  /** Answers by finish reason other than STOP (SAFETY, MAX_TOKENS). */
  finishReasons: Record<string, number>;
  stages: Record<string, number>;
  planted: Record<string, number>;
  documents: number;
  caching: CachingStats;
}

const CACHE_WITH_PROMPT_FIELDS =
  'CachedContent can not be used with GenerateContent request setting system_instruction, tools or tool_config.\n\nProposed fix: move those values to CachedContent from GenerateContent request.';

/**
 * The one generation path: every generateContent request, online or inside a batch, is read by
 * `prompt` and answered by `answer`, so a batch's answers carry the same text, finish reasons and
 * usage metadata as online ones. Transport concerns (API key, quota, faults, latency) stay with
 * the caller.
 */
export class Generator {
  readonly #stats: GenerationStats = { finishReasons: {}, stages: {}, planted: {}, documents: 0, caching: { implicit: { hits: 0, tokens: 0 }, explicit: { hits: 0, tokens: 0 } } };
  readonly #recentDocs: string[] = [];
  readonly #implicit = new ImplicitCache();
  readonly #memory: SimMemory = { chatPrompts: [], facts: [] };
  #counter = 0;

  constructor(
    readonly options: SimOptions,
    readonly metrics: SimMetrics,
    readonly caches: CachedContentStore,
  ) {}

  stats(): GenerationStats {
    return structuredClone(this.#stats);
  }

  /** countTokens: the tokens of the request's own system instruction and contents. */
  countTokens(raw: unknown): number {
    const request = normalizeRequest(raw ?? {});
    return tokensOfLines(promptLines(promptPieces(request.systemInstruction, request.contents)));
  }

  /** Reads a generateContent request and checks it as Gemini does before doing any work. */
  prompt(model: string, raw: unknown): Prompt | ApiFailure {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return failure(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    const request = normalizeRequest(raw);
    let cache: CachedContent | undefined;
    if (request.cachedContent) {
      // Gemini refuses these even when byte-identical to what the cache holds.
      if (request.systemInstruction || request.tools || request.toolConfig) return failure(400, 'INVALID_ARGUMENT', CACHE_WITH_PROMPT_FIELDS);
      const name = request.cachedContent.startsWith('cachedContents/') ? request.cachedContent : `cachedContents/${request.cachedContent}`;
      cache = this.caches.get(name);
      if (!cache) return CACHE_NOT_FOUND;
      if (cache.model !== `models/${model}`) return failure(400, 'INVALID_ARGUMENT', `Model used by GenerateContent request (models/${model}) and CachedContent (${cache.model}) has to be the same.`);
    }
    const role = invalidRole(request.contents);
    if (role !== undefined) return failure(400, 'INVALID_ARGUMENT', `Please use a valid role: user, model. (got "${role}")`);
    const ownUser = textOf(request.contents);
    if (!ownUser) return failure(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified');
    const lines = promptLines(promptPieces(request.systemInstruction, request.contents));
    return {
      model,
      request,
      lines,
      system: cache ? cache.systemText : textOf(request.systemInstruction),
      user: cache?.contentsText ? `${cache.contentsText}\n${ownUser}` : ownUser,
      ownUser,
      tokens: tokensOfLines(lines) + (cache?.tokens ?? 0),
      ...(cache ? { cache } : {}),
    };
  }

  /** The seeded randomness of one request: its contents and its arrival order. */
  random(prompt: Prompt): Random {
    return new Random(this.options.seed ^ hash32(prompt.ownUser) ^ Math.imul(++this.#counter, 0x9e3779b1));
  }

  /** A GenerateContentResponse for the prompt. */
  answer(prompt: Prompt, random: Random) {
    const { options, metrics } = this;
    const stats = this.#stats;
    const { model, request } = prompt;
    const config = request.generationConfig ?? {};
    const schema = config.responseJsonSchema ?? config.responseSchema;
    const stage = detectStage(schema, prompt.system, prompt.user);
    stats.stages[stage] = (stats.stages[stage] ?? 0) + 1;
    const cached = this.#cachedTokens(prompt);
    const usage = (outputTokens?: number) => ({
      promptTokenCount: prompt.tokens,
      ...(outputTokens === undefined ? {} : { candidatesTokenCount: outputTokens }),
      totalTokenCount: prompt.tokens + (outputTokens ?? 0),
      ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
      promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt.tokens }],
      ...(cached > 0 ? { cacheTokensDetails: [{ modality: 'TEXT', tokenCount: cached }] } : {}),
    });
    metrics.tokens.inc({ model, kind: 'prompt' }, prompt.tokens);
    if (cached > 0) metrics.tokens.inc({ model, kind: 'cached' }, cached);
    if (random.chance(options.safetyRate)) {
      stats.finishReasons.SAFETY = (stats.finishReasons.SAFETY ?? 0) + 1;
      return {
        candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] }],
        usageMetadata: usage(),
        modelVersion: model,
        responseId: randomBytes(8).toString('hex'),
      };
    }
    // A chat answer answers the conversation's last user message (earlier turns are context).
    const user = stage === 'chat-responses' ? lastUserText(request.contents) || prompt.user : prompt.user;
    const answer = respond(stage, prompt.system, user, random, options, this.#recentDocs, model, this.#memory);
    for (const id of answer.planted) {
      metrics.planted.inc({ pattern: id });
      stats.planted[id] = (stats.planted[id] ?? 0) + 1;
    }
    if (stage === 'documents') stats.documents++;
    let text = answer.text;
    let finishReason = 'STOP';
    if (schema && random.chance(options.malformedRate)) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    const cap = config.maxOutputTokens ?? 65_536;
    if (countTokens(text) > cap || random.chance(options.maxTokensRate)) {
      text = truncateToTokens(text, cap);
      finishReason = 'MAX_TOKENS';
      stats.finishReasons.MAX_TOKENS = (stats.finishReasons.MAX_TOKENS ?? 0) + 1;
    }
    const outputTokens = countTokens(text);
    metrics.tokens.inc({ model, kind: 'output' }, outputTokens);
    return {
      candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason, index: 0 }],
      usageMetadata: usage(outputTokens),
      modelVersion: model,
      responseId: randomBytes(8).toString('hex'),
    };
  }

  /** The prompt's cached tokens: all of its explicit cache, else the prefix implicit caching finds. */
  #cachedTokens(prompt: Prompt): number {
    const caching = this.#stats.caching;
    if (prompt.cache) {
      caching.explicit.hits++;
      caching.explicit.tokens += prompt.cache.tokens;
      return prompt.cache.tokens;
    }
    const min = this.options.implicitCacheMinTokens;
    // A prompt shorter than the minimum has no prefix long enough: skip the hashing.
    if (prompt.tokens < min) return 0;
    const cached = this.#implicit.cachedTokens(prompt.model, prompt.lines, min);
    if (cached > 0) {
      caching.implicit.hits++;
      caching.implicit.tokens += cached;
    }
    return cached;
  }
}
