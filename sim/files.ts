import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileNotFound, fileResource, type FileStore } from './file-store.js';
import { BodyTooLarge, failure, hasApiKey, isFailure, page, pageParams, readBytes, readJson, sendFailure, sendJson, UNREGISTERED_CALLER, type Route } from './http.js';
import { resourceId } from './resource-id.js';

/** An upload begun with `X-Goog-Upload-Command: start` and not yet finalized. */
interface UploadSession {
  declaredSize: number | undefined;
  mimeType: string;
  displayName?: string;
  id?: string;
  chunks: Buffer[];
  received: number;
  startedMs: number;
}

/** An unfinished upload is dropped after a day (Gemini's upload URLs last about a week). */
const SESSION_TTL_MS = 24 * 3_600_000;
/** The SDK sends 8 MiB chunks; Gemini announces that granularity. */
const CHUNK_GRANULARITY = 8 * 1024 * 1024;

/** The address this request reached the simulator at: where upload and file URIs must point. */
export const baseUrlOf = (req: IncomingMessage) => `http://${req.headers.host ?? 'localhost'}`;

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

const storageFull = (max: number) => failure(429, 'RESOURCE_EXHAUSTED', `File storage quota exceeded: the simulator holds at most ${max} bytes of files (option filesMaxBytes). Delete files to make room.`);

/**
 * The Files API's resumable upload, as the SDK's `ai.files.upload` drives it: a `start` request
 * to `upload/v1beta/files` answered with an `x-goog-upload-url` header (the SDK keeps its path
 * and query and replaces its host with `httpOptions.baseUrl`), then chunks to that URL with
 * `X-Goog-Upload-Offset` and `X-Goog-Upload-Command: upload` (`upload, finalize` on the last),
 * each answered with `x-goog-upload-status: active`, the last with `final` and `{"file": {...}}`.
 * `query` reports the bytes received; `cancel` drops the upload.
 */
export class Uploads {
  readonly #sessions = new Map<string, UploadSession>();

  constructor(readonly files: FileStore) {}

  async start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hasApiKey(req)) return sendFailure(res, UNREGISTERED_CALLER);
    if (header(req, 'x-goog-upload-protocol') !== 'resumable' || header(req, 'x-goog-upload-command') !== 'start') {
      return sendFailure(res, failure(400, 'INVALID_ARGUMENT', 'The simulator takes uploads by the resumable protocol only: X-Goog-Upload-Protocol: resumable, X-Goog-Upload-Command: start.'));
    }
    const body = await readJson(req, 1024 * 1024);
    if (!body.ok) return sendFailure(res, body.failure);
    const file = ((body.value as { file?: Record<string, unknown> }).file ?? {}) as { displayName?: unknown; mimeType?: unknown; sizeBytes?: unknown; name?: unknown };
    const sizeHeader = header(req, 'x-goog-upload-header-content-length') ?? (file.sizeBytes === undefined ? undefined : String(file.sizeBytes));
    const declaredSize = sizeHeader === undefined ? undefined : Number(sizeHeader);
    if (declaredSize !== undefined && !(Number.isInteger(declaredSize) && declaredSize >= 0)) return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `Invalid X-Goog-Upload-Header-Content-Length: ${sizeHeader}`));
    let id: string | undefined;
    if (file.name !== undefined) {
      id = String(file.name).replace(/^files\//, '');
      if (!/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(id)) return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `Invalid file name: ${String(file.name)}. Names are up to 40 lowercase letters, digits or dashes, not starting or ending with a dash.`));
      if (this.files.has(id)) return sendFailure(res, failure(409, 'ALREADY_EXISTS', `File files/${id} already exists.`));
    }
    if (declaredSize !== undefined && !this.files.fits(declaredSize)) return sendFailure(res, storageFull(this.files.maxBytes()));
    const now = Date.now();
    for (const [key, session] of this.#sessions) if (now - session.startedMs > SESSION_TTL_MS) this.#sessions.delete(key);
    const uploadId = resourceId(32);
    this.#sessions.set(uploadId, {
      declaredSize,
      mimeType: String(file.mimeType ?? header(req, 'x-goog-upload-header-content-type') ?? 'application/octet-stream'),
      ...(typeof file.displayName === 'string' ? { displayName: file.displayName } : {}),
      ...(id ? { id } : {}),
      chunks: [],
      received: 0,
      startedMs: now,
    });
    const uploadUrl = `${baseUrlOf(req)}/upload/v1beta/files?upload_id=${uploadId}&upload_protocol=resumable`;
    res
      .writeHead(200, {
        'x-goog-upload-status': 'active',
        'x-goog-upload-url': uploadUrl,
        'x-goog-upload-control-url': uploadUrl,
        'x-goog-upload-chunk-granularity': String(CHUNK_GRANULARITY),
        'content-length': '0',
      })
      .end();
  }

  async chunk(req: IncomingMessage, res: ServerResponse, uploadId: string): Promise<void> {
    const session = this.#sessions.get(uploadId);
    if (!session) return sendFailure(res, failure(404, 'NOT_FOUND', `No upload with id ${uploadId} (finished, cancelled or never started).`));
    const command = (header(req, 'x-goog-upload-command') ?? '').split(',').map((c) => c.trim());
    const active = (extra: Record<string, string> = {}) => void res.writeHead(200, { 'x-goog-upload-status': 'active', 'content-length': '0', ...extra }).end();
    if (command.includes('query')) return active({ 'x-goog-upload-size-received': String(session.received) });
    if (command.includes('cancel')) {
      this.#sessions.delete(uploadId);
      return void res.writeHead(200, { 'x-goog-upload-status': 'cancelled', 'content-length': '0' }).end();
    }
    if (!command.includes('upload') && !command.includes('finalize')) return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `Unknown X-Goog-Upload-Command: ${command.join(', ')}`));
    if (command.includes('upload')) {
      const offset = Number(header(req, 'x-goog-upload-offset'));
      if (offset !== session.received) return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `X-Goog-Upload-Offset ${header(req, 'x-goog-upload-offset')} does not match the ${session.received} bytes received so far.`));
      let bytes: Buffer;
      try {
        bytes = await readBytes(req, this.files.maxBytes());
      } catch (err) {
        if (err instanceof BodyTooLarge) return sendFailure(res, storageFull(this.files.maxBytes()));
        throw err;
      }
      if (session.declaredSize !== undefined && session.received + bytes.length > session.declaredSize) {
        return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `Upload exceeds the declared size of ${session.declaredSize} bytes.`));
      }
      session.chunks.push(bytes);
      session.received += bytes.length;
    }
    if (!command.includes('finalize')) return active();
    const result = this.#finalize(uploadId, session);
    if (isFailure(result)) return sendFailure(res, result);
    sendJson(res, 200, { file: fileResource(result, baseUrlOf(req)) }, { 'x-goog-upload-status': 'final' });
  }

  #finalize(uploadId: string, session: UploadSession) {
    if (session.declaredSize !== undefined && session.received !== session.declaredSize) {
      return failure(400, 'INVALID_ARGUMENT', `Upload finalized with ${session.received} bytes, ${session.declaredSize} declared.`);
    }
    if (!this.files.fits(session.received)) return storageFull(this.files.maxBytes());
    if (session.id && this.files.has(session.id)) return failure(409, 'ALREADY_EXISTS', `File files/${session.id} already exists.`);
    this.#sessions.delete(uploadId);
    return this.files.add({ ...(session.id ? { id: session.id } : {}), ...(session.displayName ? { displayName: session.displayName } : {}), mimeType: session.mimeType, bytes: Buffer.concat(session.chunks), source: 'UPLOADED' });
  }
}

/** `upload/v1beta/files`, `v1beta/files…` and `download/v1beta/files…` routes, as the SDK's `ai.files` calls them. */
export function fileRoutes(files: FileStore): Route[] {
  const uploads = new Uploads(files);
  const download = (req: IncomingMessage, res: ServerResponse, url: URL, id: string): void => {
    const file = files.get(id);
    if (!file) return sendFailure(res, fileNotFound(id));
    if (url.searchParams.get('alt') !== 'media') return sendFailure(res, failure(400, 'INVALID_ARGUMENT', 'Download requires alt=media.'));
    if (file.source !== 'GENERATED') return sendFailure(res, failure(400, 'INVALID_ARGUMENT', `Only generated files can be downloaded; ${file.name} was uploaded.`));
    res.writeHead(200, { 'content-type': file.mimeType, 'content-length': String(file.bytes.length) }).end(file.bytes);
  };
  return [
    {
      method: 'POST',
      path: /^\/upload\/v1beta\/files$/,
      // The start is counted as the upload; its chunks separately.
      kind: (url) => (url.searchParams.has('upload_id') ? 'files.uploadChunk' : 'files.upload'),
      needsKey: false,
      handle: (req, res, url) => {
        const uploadId = url.searchParams.get('upload_id');
        return uploadId ? uploads.chunk(req, res, uploadId) : uploads.start(req, res);
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/files$/,
      kind: 'files.list',
      handle: (req, res, url) => {
        const { pageSize, pageToken } = pageParams(url, 10, 100);
        const result = page(files.list(), pageSize, pageToken);
        if (isFailure(result)) return sendFailure(res, result);
        sendJson(res, 200, { ...(result.items.length ? { files: result.items.map((f) => fileResource(f, baseUrlOf(req))) } : {}), ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}) });
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/files\/([^/:]+)$/,
      kind: 'files.get',
      handle: (req, res, _url, [id]) => {
        const file = files.get(id!);
        return file ? sendJson(res, 200, fileResource(file, baseUrlOf(req))) : sendFailure(res, fileNotFound(id!));
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1beta\/files\/([^/:]+)$/,
      kind: 'files.delete',
      handle: (_req, res, _url, [id]) => (files.delete(id!) ? sendJson(res, 200, {}) : sendFailure(res, fileNotFound(id!))),
    },
    // The SDK's `files.download` asks `v1beta/files/{id}:download?alt=media`; Gemini's REST docs
    // and a file's `downloadUri` use the `download/` prefix. Both are served.
    { method: 'GET', path: /^\/v1beta\/files\/([^/:]+):download$/, kind: 'files.download', handle: (req, res, url, [id]) => download(req, res, url, id!) },
    { method: 'GET', path: /^\/download\/v1beta\/files\/([^/:]+):download$/, kind: 'files.download', handle: (req, res, url, [id]) => download(req, res, url, id!) },
  ];
}
