/**
 * The stages of the two pipelines. Each stage is its own BullMQ queue, so queue depth,
 * concurrency and quotas can be watched and tuned per stage.
 */
export const DOCUMENT_STAGES = ['facts', 'doc-types', 'doc-ideas', 'documents', 'revise'] as const;
/** `chat-user` (the user simulator) runs only for multi-turn chats (`chats.turns` > 1). */
export const CHAT_STAGES = ['traits', 'chat-prompts', 'chat-responses', 'chat-user'] as const;
export const STAGES = [...DOCUMENT_STAGES, ...CHAT_STAGES] as const;

export type DocumentStage = (typeof DOCUMENT_STAGES)[number];
export type ChatStage = (typeof CHAT_STAGES)[number];
export type Stage = (typeof STAGES)[number];

export function isStage(value: string): value is Stage {
  return (STAGES as readonly string[]).includes(value);
}
