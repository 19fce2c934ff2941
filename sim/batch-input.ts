import { fileNotFound, type FileStore } from './file-store.js';
import { failure, type ApiFailure } from './http.js';

/** One request of a batch, as submitted. */
export interface BatchItem {
  /** Inlined requests: their `metadata`, echoed on their result. */
  metadata?: Record<string, unknown>;
  /** File input: the line's `key`, echoed on its result line. */
  key?: unknown;
  /** The GenerateContentRequest. */
  request?: unknown;
  /** A file line that could not be read: its result is this error. */
  invalid?: ApiFailure;
}

/** What a batchGenerateContent body asks for. */
export interface BatchInput {
  displayName: string;
  /** Set for file input: `files/{id}`, echoed as `inputConfig.fileName`. */
  fileName?: string;
  items: BatchItem[];
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads one JSONL line of an input file: `{"key": ..., "request": {...}}`. */
function fileItem(line: string, n: number): BatchItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return { invalid: failure(400, 'INVALID_ARGUMENT', `Line ${n} of the input file is not JSON.`) };
  }
  if (!isObject(parsed)) return { invalid: failure(400, 'INVALID_ARGUMENT', `Line ${n} of the input file is not a JSON object.`) };
  const key = parsed.key;
  if (!isObject(parsed.request)) return { ...(key === undefined ? {} : { key }), invalid: failure(400, 'INVALID_ARGUMENT', `Line ${n} of the input file has no "request" object.`) };
  return { ...(key === undefined ? {} : { key }), request: parsed.request };
}

/**
 * The batch a batchGenerateContent body describes, or the 400 Gemini answers (each naming the
 * field). Body: `{"batch": {"displayName", "inputConfig": {"requests": {"requests": [{"request",
 * "metadata"}]}}}}` or `"inputConfig": {"fileName": "files/…"}` naming an uploaded JSONL file,
 * one `{"key", "request"}` a line. Snake_case spellings are accepted too, as protobuf JSON is.
 * Unreadable file lines do not fail the batch: each becomes a per-request error.
 */
export function readBatchInput(body: unknown, files: FileStore): BatchInput | ApiFailure {
  const batch = isObject(body) ? body.batch : undefined;
  if (!isObject(batch)) return failure(400, 'INVALID_ARGUMENT', 'batch is required.');
  const displayName = batch.displayName ?? batch.display_name;
  if (typeof displayName !== 'string' || displayName === '') return failure(400, 'INVALID_ARGUMENT', 'batch.display_name is required.');
  const input = batch.inputConfig ?? batch.input_config;
  if (!isObject(input)) return failure(400, 'INVALID_ARGUMENT', 'batch.input_config is required.');
  const fileName = input.fileName ?? input.file_name;
  const inline = isObject(input.requests) ? input.requests.requests : undefined;
  if ((fileName === undefined) === (inline === undefined)) return failure(400, 'INVALID_ARGUMENT', 'batch.input_config: exactly one of requests and file_name must be set.');

  if (inline !== undefined) {
    if (!Array.isArray(inline) || inline.length === 0) return failure(400, 'INVALID_ARGUMENT', 'batch.input_config.requests.requests must hold at least one request.');
    const items: BatchItem[] = [];
    for (const [i, entry] of inline.entries()) {
      if (!isObject(entry) || !isObject(entry.request)) return failure(400, 'INVALID_ARGUMENT', `batch.input_config.requests.requests[${i}].request is required.`);
      if (entry.metadata !== undefined && !isObject(entry.metadata)) return failure(400, 'INVALID_ARGUMENT', `batch.input_config.requests.requests[${i}].metadata must be an object.`);
      items.push({ request: entry.request, ...(entry.metadata ? { metadata: entry.metadata } : {}) });
    }
    return { displayName, items };
  }

  if (typeof fileName !== 'string' || !fileName.startsWith('files/')) return failure(400, 'INVALID_ARGUMENT', `batch.input_config.file_name must name a file (files/…), got ${JSON.stringify(fileName)}.`);
  const id = fileName.slice('files/'.length);
  const file = files.get(id);
  if (!file) return fileNotFound(id);
  const lines = file.bytes.toString('utf8').split('\n');
  const items = lines.flatMap((line, i) => (line.trim() === '' ? [] : [fileItem(line, i + 1)]));
  if (items.length === 0) return failure(400, 'INVALID_ARGUMENT', `The input file ${fileName} holds no requests.`);
  return { displayName, fileName, items };
}
