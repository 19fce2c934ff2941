import type { Redis } from 'ioredis';
import { runKeys } from '../../core/keys.js';
import { committedRecords, runFilePath } from '../../core/runs/run-files.js';
import { HeldOutIndex } from './held-out-index.js';

/**
 * The prompts a run trained on, from its committed item files: the chat prompts (`prompts`, the
 * user turns of its chats) and the document ideas (`ideas`). Read up to their committed lengths,
 * as every reader of run files does.
 */
export async function loadTrainingPrompts(redis: Redis, prefix: string, dataDir: string, runId: string): Promise<HeldOutIndex> {
  const index = new HeldOutIndex();
  const offsets = runKeys(prefix, runId).offsets;
  for (const [file, field] of [['prompts', 'prompt'], ['ideas', 'idea']] as const) {
    const committed = Number((await redis.hget(offsets, file)) ?? 0);
    for await (const record of committedRecords(runFilePath(dataDir, runId, file), committed)) {
      const text = record[field];
      if (typeof text === 'string') index.add(text);
    }
  }
  return index;
}
