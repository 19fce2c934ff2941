import { stat } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { ConflictError } from '../../core/errors.js';
import { runKeys } from '../../core/keys.js';
import { committedRecords, recordText, runFilePath, type OutputFile } from '../../core/runs/run-files.js';
import type { OutputKind } from './format-records.js';

type Withheld = Record<string, string>;

/** What decides which records of a run's output files are real and where each belongs. */
export interface RunOutputState {
  /** Committed length of each output file: bytes past it are not read. */
  offsets: Record<string, string>;
  /** Records the final pattern check withheld from documents/chats: id → JSON {pattern, span, stage}. */
  withheld: Record<'document' | 'chat', Withheld>;
}

export async function readRunOutputState(redis: Redis, prefix: string, runId: string): Promise<RunOutputState> {
  const keys = runKeys(prefix, runId);
  const [offsets, document, chat] = await Promise.all([redis.hgetall(keys.offsets), redis.hgetall(keys.withheld('document')), redis.hgetall(keys.withheld('chat'))]);
  return { offsets, withheld: { document, chat } };
}

/** The files a kind is read from: rejected also reads the documents/chats whose records were withheld. */
function filesOf(kind: OutputKind, state: RunOutputState): OutputFile[] {
  if (kind !== 'rejected') return [kind];
  return ['rejected', ...(Object.keys(state.withheld.document).length ? (['documents'] as const) : []), ...(Object.keys(state.withheld.chat).length ? (['chats'] as const) : [])];
}

/** Committed records whose file is gone or short are lost data, not an empty answer: a 409 naming the file. */
export async function assertOutputIntact(dataDir: string, runId: string, kind: OutputKind, state: RunOutputState): Promise<void> {
  for (const file of filesOf(kind, state)) {
    const committed = Number(state.offsets[file] ?? 0);
    if (committed === 0) continue;
    const size = await stat(runFilePath(dataDir, runId, file)).then((s) => s.size, () => -1);
    if (size < committed) {
      throw new ConflictError(`${file}.jsonl of run ${runId} ${size < 0 ? 'is missing' : `holds ${size} B`} but ${committed} B were committed: its data was lost (restore the file; an active run repairs itself when its owner reopens it)`);
    }
  }
}

/**
 * A run's committed records of one kind, in file order. Records withheld by the final pattern
 * check leave documents/chats and appear in rejected instead (after its own records), with the
 * pattern that withheld them.
 */
export async function* runRecords(dataDir: string, runId: string, kind: OutputKind, state: RunOutputState): AsyncGenerator<Record<string, unknown>> {
  const { offsets, withheld } = state;
  const own = kind === 'documents' ? withheld.document : kind === 'chats' ? withheld.chat : {};
  for await (const record of committedRecords(runFilePath(dataDir, runId, kind), Number(offsets[kind] ?? 0))) {
    if (!own[String(record.id)]) yield record;
  }
  if (kind !== 'rejected') return;
  for (const [file, held] of [['documents', withheld.document], ['chats', withheld.chat]] as const) {
    if (Object.keys(held).length === 0) continue;
    for await (const record of committedRecords(runFilePath(dataDir, runId, file), Number(offsets[file] ?? 0))) {
      const why = held[String(record.id)];
      if (!why) continue;
      const { pattern, span, stage } = JSON.parse(why) as { pattern: string; span: string; stage: string };
      yield { id: record.id, reason: 'audit-pattern', rule: `audit:${pattern}`, span, stage, text: recordText(record), withheldAtEnd: true };
    }
  }
}
