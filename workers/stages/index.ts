import type { Stage } from '../../core/stages.js';
import type { StageHandler } from '../stage-context.js';
import { chatPromptsStage } from './chat-prompts.js';
import { chatResponsesStage } from './chat-responses.js';
import { chatUserStage } from './chat-user.js';
import { docIdeasStage } from './doc-ideas.js';
import { docTypesStage } from './doc-types.js';
import { documentsStage } from './documents.js';
import { factsStage } from './facts.js';
import { reviseStage } from './revise.js';
import { traitsStage } from './traits.js';

/** The stages in pipeline order: documents, then chats. */
export const STAGE_HANDLERS: Record<Stage, StageHandler> = {
  facts: factsStage,
  'doc-types': docTypesStage,
  'doc-ideas': docIdeasStage,
  documents: documentsStage,
  revise: reviseStage,
  traits: traitsStage,
  'chat-prompts': chatPromptsStage,
  'chat-responses': chatResponsesStage,
  'chat-user': chatUserStage,
};
