import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { BatchJob, GoogleGenAI } from '@google/genai';
import type { RawBatchResult } from '../../core/batch/batch-result.js';

/**
 * A finished batch's results, in chunks of `size`, in the output's own order (the same order
 * every time the same batch is read, which is what lets each chunk be applied once). Inlined
 * results come with the batch; a results file is downloaded with `ai.files.download` into
 * `dir` and read a line at a time, so a large batch never sits in memory whole, then removed.
 */
export async function* batchResults(gemini: GoogleGenAI, job: BatchJob, dir: string, size: number): AsyncGenerator<RawBatchResult[]> {
  const inline = job.dest?.inlinedResponses;
  if (inline) {
    for (let i = 0; i < inline.length; i += size) yield inline.slice(i, i + size) as RawBatchResult[];
    return;
  }
  const fileName = job.dest?.fileName;
  if (!fileName) throw new Error(`batch ${job.name} succeeded without inlined responses or a results file`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${fileName.replace(/[^A-Za-z0-9_-]/g, '_')}.jsonl`);
  try {
    await gemini.files.download({ file: fileName, downloadPath: path });
    let chunk: RawBatchResult[] = [];
    for await (const line of createInterface({ input: createReadStream(path), crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      chunk.push(parseLine(line));
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  } finally {
    await rm(path, { force: true });
  }
}

/** A line that is not JSON still holds a place in the order; it becomes a result without a key (skipped). */
function parseLine(line: string): RawBatchResult {
  try {
    return JSON.parse(line) as RawBatchResult;
  } catch {
    return { error: { code: 'UNREADABLE', message: 'results line is not JSON' } };
  }
}
