import type { BatchJob, GoogleGenAI, InlinedRequest } from '@google/genai';
import type { BatchRequestBody } from '../../core/batch/batch-store.js';

/**
 * What a batch sends: inlined requests (`InlinedRequest`, the SDK turns them into Gemini's
 * `{request, metadata}`) or, above the inline size limit, a JSONL file of `{key, request}` lines
 * in Gemini's REST shape, uploaded with `ai.files.upload`. Either way each request carries its
 * request key (`metadata.key` / `key`), which is how its result finds its task.
 */
export type BatchSource = { kind: 'inline'; requests: InlinedRequest[] } | { kind: 'file'; jsonl: string };

/** One JSONL line: the request exactly as Gemini's REST API takes it. */
function jsonlLine(key: string, body: BatchRequestBody): string {
  const request = {
    contents: body.contents,
    ...(body.systemInstruction ? { systemInstruction: { parts: [{ text: body.systemInstruction }] } } : {}),
    generationConfig: body.generationConfig,
  };
  return JSON.stringify({ key, request });
}

function inlined(key: string, body: BatchRequestBody): InlinedRequest {
  return {
    contents: body.contents as InlinedRequest['contents'],
    config: { ...(body.systemInstruction ? { systemInstruction: body.systemInstruction } : {}), ...body.generationConfig },
    metadata: { key },
  };
}

/**
 * Inline when the requests' JSON fits in `inlineMaxBytes` (the JSONL's size is what the inlined
 * body's is, within a few bytes a request), otherwise a file.
 */
export function batchSource(requests: { key: string; body: BatchRequestBody }[], inlineMaxBytes: number): BatchSource {
  const lines = requests.map((r) => jsonlLine(r.key, r.body));
  const bytes = lines.reduce((n, line) => n + Buffer.byteLength(line) + 1, 0);
  if (bytes > inlineMaxBytes) return { kind: 'file', jsonl: lines.join('\n') + '\n' };
  return { kind: 'inline', requests: requests.map((r) => inlined(r.key, r.body)) };
}

/** Uploads a batch's JSONL input; returns its name (`files/…`). */
export async function uploadInput(gemini: GoogleGenAI, jsonl: string, displayName: string): Promise<string> {
  const file = await gemini.files.upload({ file: new Blob([jsonl], { type: 'application/jsonl' }), config: { mimeType: 'jsonl', displayName } });
  if (!file.name) throw new Error(`uploading the input of batch ${displayName}: Gemini named no file`);
  return file.name;
}

/** How far back past a batch's recording the list is read (clocks differ; Gemini lists newest first). */
const LIST_SLACK_MS = 60 * 60 * 1000;

/**
 * The batches Gemini holds under `displayName`, oldest first: how a new owner learns whether a
 * batch recorded `submitting` reached Gemini before its old owner died. `ai.batches.list` has no
 * filter, so the list is read page by page, newest first, until batches older than the record.
 */
export async function findBatches(gemini: GoogleGenAI, displayName: string, recordedAt: number): Promise<BatchJob[]> {
  const found: BatchJob[] = [];
  const pager = await gemini.batches.list({ config: { pageSize: 100 } });
  for await (const job of pager) {
    if (job.displayName === displayName) found.push(job);
    if (job.createTime && Date.parse(job.createTime) < recordedAt - LIST_SLACK_MS) break;
  }
  return found.reverse();
}
