import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error as Gemini's HTTP API reports it: HTTP code, canonical status name, message. */
export interface ApiFailure {
  code: number;
  status: string;
  message: string;
  details?: unknown[];
}

export const failure = (code: number, status: string, message: string, details: unknown[] = []): ApiFailure => ({ code, message, status, ...(details.length ? { details } : {}) });

export const isFailure = (value: unknown): value is ApiFailure =>
  typeof value === 'object' && value !== null && typeof (value as ApiFailure).status === 'string' && typeof (value as ApiFailure).code === 'number';

/** The HTTP error body Gemini sends: `{"error": {code, message, status, details?}}`. */
export function geminiError(code: number, status: string, message: string, details: unknown[] = []) {
  return { error: failure(code, status, message, details) };
}

/**
 * The canonical gRPC codes. Inside a resource (a batch's per-request errors, an operation's
 * `error`) Gemini reports a `google.rpc.Status`: `{code, message}` with the gRPC code, not the HTTP
 * one, and no status name.
 */
const GRPC_CODES: Record<string, number> = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
};

export function rpcStatus(f: ApiFailure): { code: number; message: string } {
  return { code: GRPC_CODES[f.status] ?? 2, message: f.message };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

export function sendFailure(res: ServerResponse, f: ApiFailure): void {
  sendJson(res, f.code, { error: f });
}

/** The whole request body; rejects (and stops reading) past `limit` bytes. */
export async function readBytes(req: IncomingMessage, limit = Infinity): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
  constructor(readonly limit: number) {
    super(`Request payload size exceeds the limit: ${limit} bytes.`);
  }
}

export type JsonBody = { ok: true; value: unknown } | { ok: false; failure: ApiFailure };

/** The body parsed as JSON (an empty body is `{}`), or Gemini's answer to a body that is not JSON. */
export async function readJson(req: IncomingMessage, limit = Infinity): Promise<JsonBody> {
  let text: string;
  try {
    text = (await readBytes(req, limit)).toString('utf8');
  } catch (err) {
    if (err instanceof BodyTooLarge) return { ok: false, failure: failure(400, 'INVALID_ARGUMENT', err.message) };
    throw err;
  }
  try {
    return { ok: true, value: JSON.parse(text || '{}') };
  } catch {
    return { ok: false, failure: failure(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.') };
  }
}

export function hasApiKey(req: IncomingMessage): boolean {
  return Boolean(req.headers['x-goog-api-key']) || /[?&]key=/.test(req.url ?? '');
}

export const UNREGISTERED_CALLER = failure(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers. Please use an API key.");

/** `pageSize` and `pageToken` of a list request, with Gemini's default and maximum page sizes. */
export function pageParams(url: URL, defaultSize: number, maxSize: number): { pageSize: number; pageToken: string | undefined } {
  const asked = Number(url.searchParams.get('pageSize') ?? '');
  const pageSize = Number.isInteger(asked) && asked > 0 ? Math.min(asked, maxSize) : defaultSize;
  return { pageSize, pageToken: url.searchParams.get('pageToken') ?? undefined };
}

/**
 * One page of `items`, newest first (descending `seq`, the number each was created with). The token names the last item returned, so items created between two pages neither shift
 * nor repeat the next page. No `nextPageToken` on the last page: the SDK's pager stops on its absence.
 */
export function page<T extends { seq: number }>(items: readonly T[], pageSize: number, pageToken: string | undefined): { items: T[]; nextPageToken?: string } | ApiFailure {
  let start = 0;
  if (pageToken) {
    const after = Number(Buffer.from(pageToken, 'base64url').toString('utf8'));
    if (!Number.isInteger(after)) return failure(400, 'INVALID_ARGUMENT', 'Invalid page token.');
    start = items.findIndex((item) => item.seq < after);
    if (start === -1) start = items.length;
  }
  const slice = items.slice(start, start + pageSize);
  const more = start + pageSize < items.length;
  return { items: slice, ...(more ? { nextPageToken: Buffer.from(String(slice[slice.length - 1]!.seq), 'utf8').toString('base64url') } : {}) };
}

/** One endpoint of the simulator. */
export interface Route {
  method: string;
  path: RegExp;
  /** What the call is, for the simulator's call counts: named after the SDK method that makes it. */
  kind: string | ((url: URL) => string);
  /** Whether an API key is required; upload chunks carry none (their upload URL is the credential). @defaultValue true */
  needsKey?: boolean;
  /** `params` are the path's captures, URI-decoded. */
  handle(req: IncomingMessage, res: ServerResponse, url: URL, params: string[]): void | Promise<void>;
}
