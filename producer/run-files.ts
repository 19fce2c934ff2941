import { join } from 'node:path';

/** Final outputs a user exports, and the item files that feed the next stage. */
export const OUTPUT_FILES = ['documents', 'chats', 'rejected'] as const;
export const ITEM_FILES = ['facts', 'doc-types', 'ideas', 'drafts', 'traits', 'prompts'] as const;

export type OutputFile = (typeof OUTPUT_FILES)[number];
export type ItemFile = (typeof ITEM_FILES)[number];
export type RunFile = OutputFile | ItemFile;

export function runDir(dataDir: string, runId: string): string {
  return join(dataDir, runId);
}

export function runFilePath(dataDir: string, runId: string, file: RunFile): string {
  const isItem = (ITEM_FILES as readonly string[]).includes(file);
  return isItem ? join(dataDir, runId, 'items', `${file}.jsonl`) : join(dataDir, runId, `${file}.jsonl`);
}
