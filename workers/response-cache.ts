import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { requestKey, type AnswerSlot } from '../core/gemini/request-key.js';
import type { ResponseStore, StoredAnswer } from '../core/gemini/response-store.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { ZERO_USAGE, type TaskData } from '../core/task.js';
import { geminiRequestOf, type CallModel, type ModelRequest } from './call-model.js';
import type { ModelReply } from './stage-context.js';

/**
 * The response cache in front of the model: a request that carries an answer slot (`cache`) is
 * looked up by its request key first; a hit is answered from Redis without a model call, so
 * without quota, budget or cost, and counts as no call. It wraps the whole CallModel, quota and
 * budget reservation included, so a hit never reaches either.
 *
 * Only answers the farm could use are stored: finishReason STOP and, for a structured request,
 * text that parses as JSON. So a retry after a malformed, truncated or blocked answer asks the
 * model again instead of being handed the same answer; an answer a filter rejected is stored
 * (it is what the model said), and its regeneration is a later call of the task, with its own
 * slot (see taskVariant), so it is never answered with it.
 *
 * No single-flight: within a run every request has its own slot, so identical requests in
 * flight at once happen only when two identical runs (same spec, same seed) run at the same
 * time; both pay, and the second store finds the entry present.
 */
export interface ResponseCacheDeps {
  store: ResponseStore;
  metrics: FarmMetrics;
  logger: Logger;
}

export function withResponseCache(callModel: CallModel, deps: ResponseCacheDeps): CallModel {
  const { store, metrics, logger } = deps;
  return async (request) => {
    if (!request.cache) return callModel(request);
    const key = modelRequestKey(request, request.cache);
    const stored = await store.get(key).catch((err: unknown) => {
      // A cache that cannot be read is a miss: the call goes to the model.
      logger.warn({ err }, 'response cache lookup failed; asking the model');
      return undefined;
    });
    if (stored) {
      const savedUsd = stored.usage.costUsd ?? 0;
      metrics.responseCacheHits.inc({ model: request.model });
      if (savedUsd) metrics.responseCacheSavedUsd.inc({ model: request.model }, savedUsd);
      return {
        reply: { text: stored.text, finishReason: stored.finishReason, model: request.model },
        usage: { ...ZERO_USAGE, cacheHits: 1, cacheSavedUsd: savedUsd },
      };
    }
    const answer = await callModel(request);
    metrics.responseCacheMisses.inc({ model: request.model });
    await offer(deps, key, request, answer.reply, answer.usage);
    return { ...answer, usage: { ...answer.usage, cacheMisses: (answer.usage.cacheMisses ?? 0) + 1 } };
  };
}

/**
 * The request key of a farm request in its answer slot: the response cache's address of its
 * answer, and what batch mode sends as the batch request's `metadata.key` (same request, same slot,
 * same key online or in a batch, so each path finds the other's answers).
 */
export function modelRequestKey(request: ModelRequest, slot: AnswerSlot): string {
  return requestKey(geminiRequestOf(request), slot);
}

/** Stores an answer if the farm could use it; a store that fails only costs a later miss. */
async function offer({ store, metrics, logger }: ResponseCacheDeps, key: string, request: ModelRequest, reply: ModelReply, usage: StoredAnswer['usage']): Promise<void> {
  if (!usableAnswer(request, reply)) {
    metrics.responseCacheStores.inc({ outcome: 'unusable' });
    return;
  }
  try {
    const { promptTokens, outputTokens, thoughtsTokens, costUsd, unpricedCalls } = usage;
    const put = await store.put(key, { text: reply.text, finishReason: reply.finishReason, usage: { promptTokens, outputTokens, thoughtsTokens, costUsd, unpricedCalls } });
    metrics.responseCacheStores.inc({ outcome: put.outcome });
    if (put.evicted) metrics.responseCacheEvictions.inc({ reason: 'size' }, put.evicted);
    if (put.expired) metrics.responseCacheEvictions.inc({ reason: 'expired' }, put.expired);
    if (put.bytes !== undefined) metrics.responseCacheBytes.set(put.bytes);
  } catch (err) {
    metrics.responseCacheStores.inc({ outcome: 'error' });
    logger.warn({ err }, 'storing a model answer in the response cache failed');
  }
}

/** An answer the farm can use as it is: complete (STOP), and valid JSON when JSON was asked for. */
export function usableAnswer(request: Pick<ModelRequest, 'schema'>, reply: Pick<ModelReply, 'text' | 'finishReason'>): boolean {
  return reply.finishReason === 'STOP' && answersSchema(request, reply);
}

/** JSON when the request asked for JSON (a structured stage's answer that does not parse is of no use). */
export function answersSchema(request: Pick<ModelRequest, 'schema'>, reply: Pick<ModelReply, 'text'>): boolean {
  if (!request.schema) return true;
  try {
    JSON.parse(reply.text);
    return true;
  } catch {
    return false;
  }
}

/** The run's cache setting for its requests: undefined when the spec turns the cache off (`cache: false`). */
export function runAnswerSlot(spec: Pick<RunSpec, 'seed' | 'cache'>, variant: string): AnswerSlot | undefined {
  return spec.cache === false ? undefined : { seed: spec.seed ?? 0, variant };
}

/** The coordinates that tell apart the tasks of a stage that may send the same prompt. */
const COORDINATES = ['f', 't', 'i', 'd', 'batch', 'p', 'turn'] as const;

/**
 * A task's call's slot in its run: the stage, the task's coordinates in the run's tree (fact or
 * trait `f`, type `t`, idea `i`, document `d` of its idea, prompt batch `batch`, prompt `p` of its
 * batch, conversation turn `turn` of a multi-turn chat, absent on turn 1 so single-turn chats keep
 * their keys) and the call's number within the task attempt.
 *
 * The coordinates, not the task's queue index: they are what makes sibling tasks that ask one
 * prompt (the `docsPerIdea` documents of an idea, the prompt batches of a trait, identical user
 * prompts) different answers, and unlike the index they do not depend on the order in which
 * earlier results were committed, so an identical run gives each task the same slot and finds
 * its answers. The call's number tells apart the calls of one task that may repeat a request:
 * a regeneration after a filter rejection, doc-types asking again for more types.
 */
export function taskVariant(task: Pick<TaskData, 'stage' | 'input'>, call: number): string {
  let variant = task.stage;
  for (const name of COORDINATES) {
    const value = task.input[name];
    if (value !== undefined) variant += ` ${name}${value}`;
  }
  return `${variant} #${call}`;
}
