export const OUTPUT_FORMATS = ['raw', 'text', 'messages', 'gemini'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type OutputKind = 'documents' | 'chats' | 'rejected';

interface ChatMessage {
  role: string;
  content: string;
}

/** Which formats make sense for which kind: text for midtraining documents, messages/gemini for SFT chats. */
export function formatProblem(kind: OutputKind, format: OutputFormat): string | undefined {
  if (format === 'raw') return undefined;
  if (format === 'text' && kind !== 'documents') return 'format: text applies to kind=documents';
  if ((format === 'messages' || format === 'gemini') && kind !== 'chats') return `format: ${format} applies to kind=chats`;
  return undefined;
}

/** Turns one stored record into the requested export shape. */
export function formatRecord(record: Record<string, unknown>, format: OutputFormat): unknown {
  switch (format) {
    case 'raw':
      return record;
    case 'text':
      return { text: record.text };
    case 'messages':
      return { messages: record.messages };
    case 'gemini':
      return {
        contents: ((record.messages as ChatMessage[]) ?? []).map((m) => ({
          role: m.role === 'assistant' ? 'model' : 'user',
          parts: [{ text: m.content }],
        })),
      };
  }
}
