import { createHash } from 'node:crypto';
import type { PromptLibrary } from '../prompts/prompt-library.js';
import { renderTemplate } from '../prompts/render-template.js';
import { resolveStageSettings } from '../spec/resolve-stage-settings.js';
import type { RunSpec } from '../spec/run-spec-schema.js';
import type { Stage } from '../stages.js';

/**
 * What of a run's prompts an explicit cache can hold. A cache is a prompt prefix Gemini keeps,
 * and a request that uses it may not send a system instruction of its own; so a stage's system
 * instruction can be cached only when it is the same for every task of the run: when its
 * template uses no value but `{{universe}}` (documents, and any stage whose system.md holds only
 * the universe). A system instruction with a task's value in it (chat-responses' `{{trait}}`, a
 * `{{#feedback}}` section) is never cached: each task would need its own.
 *
 * One cache per (run, model, system instruction text): stages with the same model and the same
 * system instruction share it; the same text under two models is two caches (a cache belongs to
 * one model).
 */
export interface CachedPrefix {
  /** Names the prefix within its run: a hash of the model and the system instruction text. */
  key: string;
  model: string;
  /** The system instruction as every task of these stages renders it. */
  system: string;
  stages: Stage[];
  /** The farm's estimate of its size (4 characters a token), compared with the threshold. */
  estimatedTokens: number;
}

/** The values a template reads: `{{name}}` and `{{#name}}…{{/name}}`. */
export function templateVariables(template: string): Set<string> {
  return new Set([...template.matchAll(/\{\{[#/]?(\w+)\}\}/g)].map((m) => m[1]!));
}

/** A system template every task of a run renders the same: it reads the universe at most. */
export function isRunConstant(template: string): boolean {
  return [...templateVariables(template)].every((name) => name === 'universe');
}

/** The cache key of a system instruction under a model: the workers compute the same from what they send. */
export function promptCacheKey(model: string, system: string): string {
  return createHash('sha256').update(`${model.replace(/^models\//, '')}\n${system}`).digest('hex').slice(0, 24);
}

/** Same rule as the farm's pre-call estimate (workers/call-model.ts roughTokens). */
function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * The prefixes of a run worth an explicit cache: the run-constant system instructions of its
 * stages at or above `minTokens` (estimated), grouped by model and text. `minTokens` 0 = none.
 */
export function cachedPrefixes(spec: RunSpec, stages: readonly Stage[], prompts: PromptLibrary, minTokens: number): CachedPrefix[] {
  if (minTokens <= 0) return [];
  const byKey = new Map<string, CachedPrefix>();
  for (const stage of stages) {
    const template = spec.prompts?.[stage]?.system ?? prompts.get(stage).system;
    if (!template || !isRunConstant(template)) continue;
    const system = renderTemplate(template, { universe: spec.universe });
    const estimatedTokens = estimateTokens(system);
    if (estimatedTokens < minTokens) continue;
    const { model } = resolveStageSettings(spec, stage);
    const key = promptCacheKey(model, system);
    const found = byKey.get(key);
    if (found) found.stages.push(stage);
    else byKey.set(key, { key, model, system, stages: [stage], estimatedTokens });
  }
  return [...byKey.values()];
}
