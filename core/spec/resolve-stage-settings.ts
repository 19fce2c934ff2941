import type { Stage } from '../stages.js';
import type { RunSpec, StageMode } from './run-spec-schema.js';

export interface ResolvedStageSettings {
  model: string;
  temperature: number;
  maxOutputTokens: number;
  /** `stages.<stage>.mode` over the run's `mode` over online. */
  mode: StageMode;
}

export const DEFAULT_MODEL = 'gemini-2.5-flash';
export const DEFAULT_RESPONSE_MODEL = 'gemini-2.5-pro';

/** Brainstorming stages run hot for variety; extraction runs cold; documents need room. */
const STAGE_DEFAULTS: Record<Stage, { temperature: number; maxOutputTokens: number }> = {
  facts: { temperature: 0.2, maxOutputTokens: 4096 },
  'doc-types': { temperature: 1.0, maxOutputTokens: 2048 },
  'doc-ideas': { temperature: 1.0, maxOutputTokens: 8192 },
  documents: { temperature: 1.0, maxOutputTokens: 8192 },
  revise: { temperature: 0.7, maxOutputTokens: 12288 },
  traits: { temperature: 0.2, maxOutputTokens: 4096 },
  'chat-prompts': { temperature: 1.0, maxOutputTokens: 8192 },
  'chat-responses': { temperature: 0.8, maxOutputTokens: 8192 },
  // A user's next message is short; hot, so conversations drift apart.
  'chat-user': { temperature: 1.0, maxOutputTokens: 2048 },
};

/** The stages of a run that send their model calls through the Batch API. */
export function batchStages(spec: RunSpec, stages: readonly Stage[]): Stage[] {
  return stages.filter((stage) => resolveStageSettings(spec, stage).mode === 'batch');
}

/** Model, temperature and output cap for a stage: `stages.<stage>` over the pipeline's model over defaults. */
export function resolveStageSettings(spec: RunSpec, stage: Stage): ResolvedStageSettings {
  const pipelineModel =
    stage === 'chat-responses'
      ? (spec.chats?.responseModel ?? DEFAULT_RESPONSE_MODEL)
      : stage === 'traits' || stage === 'chat-prompts' || stage === 'chat-user'
        ? spec.chats?.model
        : spec.documents?.model;
  const override = spec.stages?.[stage] ?? {};
  return {
    model: override.model ?? pipelineModel ?? DEFAULT_MODEL,
    temperature: override.temperature ?? STAGE_DEFAULTS[stage].temperature,
    maxOutputTokens: override.maxOutputTokens ?? STAGE_DEFAULTS[stage].maxOutputTokens,
    mode: override.mode ?? spec.mode ?? 'online',
  };
}
