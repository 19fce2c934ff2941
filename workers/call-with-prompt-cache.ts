import { isCacheGone } from '../core/gemini/cache-errors.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { ZERO_USAGE, addUsage } from '../core/task.js';
import type { CallModel, ModelRequest } from './call-model.js';
import type { PromptCacheNames } from './prompt-cache-names.js';

export interface PromptCacheUse {
  names: PromptCacheNames;
  metrics: FarmMetrics;
  logger: Logger;
}

/**
 * A model call that uses the run's explicit cache when one holds the request's system
 * instruction: the cache is named instead of sending the instruction (Gemini refuses both). If
 * Gemini says the cache is gone (expired, deleted), the call is made again with the system
 * instruction, so a lost cache costs the full input price for a while, never a task; the run's
 * owner recreates the cache at its next renewal. The failed attempt is counted as a call.
 */
export async function callWithPromptCache(callModel: CallModel, use: PromptCacheUse | undefined, runId: string, request: ModelRequest): ReturnType<CallModel> {
  const name = use && request.system ? await use.names.nameFor(runId, request.model, request.system) : undefined;
  if (!use || !name) return callModel(request);
  try {
    return await callModel({ ...request, cachedContent: name });
  } catch (err) {
    if (!isCacheGone(err)) throw err;
    use.metrics.promptCacheFallbacks.inc({ model: request.model });
    if (!use.names.gone(runId, name)) use.logger.warn({ runId, model: request.model, cache: name, err }, 'explicit cache gone; sending the system instruction until the run owner recreates it');
    const answer = await callModel(request);
    return { ...answer, usage: addUsage(answer.usage, { ...ZERO_USAGE, calls: 1 }) };
  }
}
