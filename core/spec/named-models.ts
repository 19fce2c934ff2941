import { resolveFilterSpec } from '../filters/filter-spec.js';
import { STAGES, type Stage } from '../stages.js';
import { resolveStageSettings } from './resolve-stage-settings.js';
import type { RunSpec } from './run-spec-schema.js';

/** One place a spec names a model, or one stage that falls back to a default model. */
export interface NamedModel {
  /** Field path as problems name it (`documents.model`, `stages.revise.model`, `limits.gemini-2.5-pro`). */
  path: string;
  model: string;
  /** True when the spec does not name it: a stage of the run gets it from the farm's defaults. */
  byDefault: boolean;
}

/** The stages a run makes model calls in (given keyFacts/traits skip their extraction stage). */
export function callingStages(spec: RunSpec): Stage[] {
  const stages: Stage[] = [];
  if (spec.documents) {
    if (!spec.keyFacts) stages.push('facts');
    stages.push('doc-types', 'doc-ideas', 'documents');
    if (spec.documents.revise) stages.push('revise');
  }
  if (spec.chats) {
    if (!spec.traits) stages.push('traits');
    stages.push('chat-prompts', 'chat-responses');
    if ((spec.chats.turns ?? 1) > 1) stages.push('chat-user');
  }
  return stages;
}

/** Whether the spec itself names the model of a stage (its own `stages.<stage>.model` or its pipeline's). */
function namesStageModel(spec: RunSpec, stage: Stage): boolean {
  if (spec.stages?.[stage]?.model) return true;
  if (stage === 'chat-responses') return Boolean(spec.chats?.responseModel);
  if (stage === 'traits' || stage === 'chat-prompts' || stage === 'chat-user') return Boolean(spec.chats?.model);
  return Boolean(spec.documents?.model);
}

/**
 * Every place a run spec names a model, field by field, then each stage the run calls a model in
 * without naming one (it gets the farm's default). Fields of the schema that hold a model:
 * `documents.model`, `chats.model`, `chats.responseModel`, `stages.<stage>.model`,
 * `filters.audit.model`, and the keys of `limits`.
 */
export function namedModels(spec: RunSpec): NamedModel[] {
  const named: NamedModel[] = [];
  const add = (path: string, model: string | undefined) => {
    if (model) named.push({ path, model, byDefault: false });
  };
  add('documents.model', spec.documents?.model);
  add('chats.model', spec.chats?.model);
  add('chats.responseModel', spec.chats?.responseModel);
  for (const stage of STAGES) add(`stages.${stage}.model`, spec.stages?.[stage]?.model);
  add('filters.audit.model', spec.filters?.audit?.model);
  for (const model of Object.keys(spec.limits ?? {})) add(`limits.${model}`, model);

  for (const stage of callingStages(spec)) {
    if (!namesStageModel(spec, stage)) named.push({ path: `stages.${stage}.model`, model: resolveStageSettings(spec, stage).model, byDefault: true });
  }
  const audit = resolveFilterSpec(spec.filters).audit;
  // The audit's default model is the documents stage's (workers/audit-worker.ts), named or not.
  if (audit.enabled && !audit.model && !namesStageModel(spec, 'documents')) {
    named.push({ path: 'filters.audit.model', model: resolveStageSettings(spec, 'documents').model, byDefault: true });
  }
  return named;
}
