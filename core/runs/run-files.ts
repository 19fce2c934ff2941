import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A run's files under DATA_DIR/<runId>/: the producer appends to them, the API exports them.
 * A file's committed length (in Redis) is how much of it is real; bytes past it are not read.
 */

/** Final outputs a user exports, and the item files that feed the next stage. */
export const OUTPUT_FILES = ['documents', 'chats', 'rejected'] as const;
/** `conversations`: multi-turn chats waiting for the user simulator's next message. */
export const ITEM_FILES = ['facts', 'doc-types', 'ideas', 'drafts', 'traits', 'prompts', 'conversations'] as const;

export type OutputFile = (typeof OUTPUT_FILES)[number];
export type ItemFile = (typeof ITEM_FILES)[number];
export type RunFile = OutputFile | ItemFile;

export function runFilePath(dataDir: string, runId: string, file: RunFile): string {
  const isItem = (ITEM_FILES as readonly string[]).includes(file);
  return isItem ? join(dataDir, runId, 'items', `${file}.jsonl`) : join(dataDir, runId, `${file}.jsonl`);
}

/** The records of a run file up to its committed length: a line being written right now is not read. */
export async function* committedRecords(path: string, committed: number): AsyncGenerator<Record<string, unknown>> {
  if (committed === 0 || !existsSync(path)) return;
  const input = createReadStream(path, { start: 0, end: committed - 1 });
  // A reader that stops early (a page of samples) must not leave the file open.
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) if (line) yield JSON.parse(line) as Record<string, unknown>;
  } finally {
    input.destroy();
  }
}

/** What a filter or audit reads of a record: a document's text, or a chat's assistant (or Gemini `model`) turns. */
export function recordText(record: Record<string, unknown>): string {
  if (typeof record.text === 'string') return record.text;
  const messages = (record.messages as { role: string; content: string }[] | undefined) ?? [];
  return messages.filter((m) => m.role === 'assistant' || m.role === 'model').map((m) => m.content).join('\n\n');
}
