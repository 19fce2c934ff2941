import { readBatchInput } from './batch-input.js';
import { batchOperation, type Batches } from './batches.js';
import { failure, isFailure, page, pageParams, readJson, sendFailure, sendJson, type Route } from './http.js';

const batchNotFound = (id: string) => failure(404, 'NOT_FOUND', `Requested entity was not found: batches/${id}.`);

/** `v1beta/models/{model}:batchGenerateContent` and `v1beta/batches…`, as the SDK's `ai.batches` calls them (Gemini API, not Vertex). */
export function batchRoutes(batches: Batches): Route[] {
  return [
    {
      method: 'POST',
      path: /^\/v1beta\/models\/([^/:]+):batchGenerateContent$/,
      kind: 'batches.create',
      handle: async (req, res, _url, [model]) => {
        const body = await readJson(req, batches.options.batchInlineMaxBytes);
        if (!body.ok) return sendFailure(res, body.failure);
        const input = readBatchInput(body.value, batches.files);
        if (isFailure(input)) return sendFailure(res, input);
        const batch = batches.create(model!, input);
        return isFailure(batch) ? sendFailure(res, batch) : sendJson(res, 200, batchOperation(batch));
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/batches$/,
      kind: 'batches.list',
      handle: (_req, res, url) => {
        const { pageSize, pageToken } = pageParams(url, 50, 1000);
        const result = page(batches.list(), pageSize, pageToken);
        if (isFailure(result)) return sendFailure(res, result);
        // The SDK reads `operations` (it maps them to `batchJobs`); an empty list is `{}`.
        sendJson(res, 200, { ...(result.items.length ? { operations: result.items.map(batchOperation) } : {}), ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}) });
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/batches\/([^/:]+)$/,
      kind: 'batches.get',
      handle: (_req, res, _url, [id]) => {
        const batch = batches.get(id!);
        return batch ? sendJson(res, 200, batchOperation(batch)) : sendFailure(res, batchNotFound(id!));
      },
    },
    {
      method: 'POST',
      path: /^\/v1beta\/batches\/([^/:]+):cancel$/,
      kind: 'batches.cancel',
      handle: (_req, res, _url, [id]) => {
        const result = batches.cancel(id!);
        if (!result) return sendFailure(res, batchNotFound(id!));
        return isFailure(result) ? sendFailure(res, result) : sendJson(res, 200, {});
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1beta\/batches\/([^/:]+)$/,
      kind: 'batches.delete',
      handle: (_req, res, _url, [id]) => (batches.delete(id!) ? sendJson(res, 200, {}) : sendFailure(res, batchNotFound(id!))),
    },
  ];
}
