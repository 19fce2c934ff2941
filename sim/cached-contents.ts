import { failure, isFailure, page, pageParams, readJson, sendFailure, sendJson, type ApiFailure, type Route } from './http.js';
import { normalizeRequest, promptPieces, textOf, type PromptPiece } from './prompt.js';
import { resourceId } from './resource-id.js';
import { addTallies, tallyTokens, tokensOf, type TokenTally } from './tokens.js';

/** An explicit cache (`cachedContents/{id}`): a prompt prefix a model is asked to keep. */
export interface CachedContent {
  name: string;
  /** `models/{model}`; only that model may use it. */
  model: string;
  displayName: string;
  seq: number;
  createMs: number;
  updateMs: number;
  expireMs: number;
  /** What the cache holds, in prompt order, and the texts the answer generators read. */
  pieces: PromptPiece[];
  systemText: string;
  contentsText: string;
  tally: TokenTally;
  /** `usageMetadata.totalTokenCount`: what every request using it is billed as cached input. */
  tokens: number;
}

/** What Gemini answers for an unknown, deleted or expired cache, on GET and on generateContent alike (403, never 404). */
export const CACHE_NOT_FOUND = failure(403, 'PERMISSION_DENIED', 'CachedContent not found (or permission denied)');

/** A cache lives an hour unless `ttl` or `expireTime` says otherwise. */
const DEFAULT_TTL_MS = 3_600_000;

/** `ttl` ("3600s", protobuf Duration JSON) or `expireTime` (RFC 3339) → when the cache expires; neither → undefined. */
function expiry(body: Record<string, unknown>, now: number): number | undefined | ApiFailure {
  const { ttl, expireTime } = body;
  if (ttl !== undefined && expireTime !== undefined) return failure(400, 'INVALID_ARGUMENT', 'Only one of ttl and expire_time may be set.');
  if (ttl !== undefined) {
    const seconds = typeof ttl === 'string' ? /^(\d+(?:\.\d{1,9})?)s$/.exec(ttl)?.[1] : undefined;
    if (seconds === undefined) return failure(400, 'INVALID_ARGUMENT', `Invalid value at 'cached_content.ttl' (type.googleapis.com/google.protobuf.Duration), ${JSON.stringify(ttl)}`);
    if (Number(seconds) <= 0) return failure(400, 'INVALID_ARGUMENT', 'cached_content.ttl must be positive.');
    return now + Number(seconds) * 1000;
  }
  if (expireTime !== undefined) {
    const at = typeof expireTime === 'string' ? Date.parse(expireTime) : NaN;
    if (Number.isNaN(at)) return failure(400, 'INVALID_ARGUMENT', `Invalid value at 'cached_content.expire_time' (type.googleapis.com/google.protobuf.Timestamp), ${JSON.stringify(expireTime)}`);
    if (at <= now) return failure(400, 'INVALID_ARGUMENT', 'cached_content.expire_time must be in the future.');
    return at;
  }
  return undefined;
}

/**
 * The explicit caches, in memory, expiring by their `expireTime` (an expired cache is gone: not
 * listed, not usable, 403 on GET). Creation is refused below `minTokens()` as Gemini refuses it
 * (400 "Cached content is too small"); the minimum is read on every call so a test can change it.
 */
export class CachedContentStore {
  readonly #entries = new Map<string, CachedContent>();
  #seq = 0;

  constructor(readonly minTokens: () => number) {}

  create(raw: unknown, now = Date.now()): CachedContent | ApiFailure {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return failure(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    const body = normalizeRequest(raw) as ReturnType<typeof normalizeRequest> & Record<string, unknown>;
    if (typeof body.model !== 'string' || body.model === '') return failure(400, 'INVALID_ARGUMENT', 'cached_content.model is required.');
    const expires = expiry(body, now);
    if (isFailure(expires)) return expires;
    const pieces = promptPieces(body.systemInstruction, body.contents);
    let tally = pieces.reduce((sum, p) => addTallies(sum, tallyTokens(p.text)), { words: 0, marks: 0 });
    // Tool declarations are part of the cached prompt and count towards its size.
    if (body.tools) tally = addTallies(tally, tallyTokens(JSON.stringify(body.tools)));
    const tokens = tokensOf(tally);
    const min = this.minTokens();
    if (tokens < min) return failure(400, 'INVALID_ARGUMENT', `Cached content is too small. total_token_count=${tokens}, min_total_token_count=${min}`);
    this.#purge(now);
    const entry: CachedContent = {
      name: `cachedContents/${resourceId(40)}`,
      model: body.model.startsWith('models/') ? body.model : `models/${body.model}`,
      displayName: typeof body.displayName === 'string' ? body.displayName : '',
      seq: ++this.#seq,
      createMs: now,
      updateMs: now,
      expireMs: expires ?? now + DEFAULT_TTL_MS,
      pieces,
      systemText: textOf(body.systemInstruction),
      contentsText: textOf(body.contents),
      tally,
      tokens,
    };
    this.#entries.set(entry.name, entry);
    return entry;
  }

  /** A live cache by name (`cachedContents/{id}`), or undefined if unknown, deleted or expired. */
  get(name: string, now = Date.now()): CachedContent | undefined {
    const entry = this.#entries.get(name);
    if (entry && entry.expireMs <= now) {
      this.#entries.delete(name);
      return undefined;
    }
    return entry;
  }

  /** Only the expiry can change (`ttl` or `expireTime`), as in Gemini. */
  update(name: string, raw: unknown, now = Date.now()): CachedContent | ApiFailure {
    const entry = this.get(name, now);
    if (!entry) return CACHE_NOT_FOUND;
    const body = (raw && typeof raw === 'object' ? normalizeRequest(raw) : {}) as Record<string, unknown>;
    const expires = expiry(body, now);
    if (isFailure(expires)) return expires;
    if (expires === undefined) return failure(400, 'INVALID_ARGUMENT', 'Either ttl or expire_time must be set to update a cached content.');
    entry.expireMs = expires;
    entry.updateMs = now;
    return entry;
  }

  delete(name: string, now = Date.now()): boolean {
    const live = this.get(name, now) !== undefined;
    this.#entries.delete(name);
    return live;
  }

  /** Live caches, newest first. */
  list(now = Date.now()): CachedContent[] {
    this.#purge(now);
    return [...this.#entries.values()].reverse();
  }

  #purge(now: number): void {
    for (const [name, entry] of this.#entries) if (entry.expireMs <= now) this.#entries.delete(name);
  }
}

/** The resource as Gemini returns it: it echoes none of the cached contents. */
export function cachedContentResource(entry: CachedContent) {
  return {
    name: entry.name,
    model: entry.model,
    createTime: new Date(entry.createMs).toISOString(),
    updateTime: new Date(entry.updateMs).toISOString(),
    expireTime: new Date(entry.expireMs).toISOString(),
    displayName: entry.displayName,
    usageMetadata: { totalTokenCount: entry.tokens },
  };
}

/** `v1beta/cachedContents…` routes, as the SDK's `ai.caches` calls them. */
export function cachedContentRoutes(store: CachedContentStore): Route[] {
  const byName = (id: string) => `cachedContents/${id}`;
  const answer = (res: Parameters<Route['handle']>[1], result: CachedContent | ApiFailure) =>
    isFailure(result) ? sendFailure(res, result) : sendJson(res, 200, cachedContentResource(result));
  return [
    {
      method: 'POST',
      path: /^\/v1beta\/cachedContents$/,
      kind: 'caches.create',
      handle: async (req, res) => {
        const body = await readJson(req);
        answer(res, body.ok ? store.create(body.value) : body.failure);
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/cachedContents$/,
      kind: 'caches.list',
      handle: (_req, res, url) => {
        const { pageSize, pageToken } = pageParams(url, 1000, 1000);
        const result = page(store.list(), pageSize, pageToken);
        if (isFailure(result)) return sendFailure(res, result);
        // An empty list is `{}`: Gemini omits empty repeated fields.
        sendJson(res, 200, { ...(result.items.length ? { cachedContents: result.items.map(cachedContentResource) } : {}), ...(result.nextPageToken ? { nextPageToken: result.nextPageToken } : {}) });
      },
    },
    {
      method: 'GET',
      path: /^\/v1beta\/cachedContents\/([^/:]+)$/,
      kind: 'caches.get',
      handle: (_req, res, _url, [id]) => answer(res, store.get(byName(id!)) ?? CACHE_NOT_FOUND),
    },
    {
      method: 'PATCH',
      path: /^\/v1beta\/cachedContents\/([^/:]+)$/,
      kind: 'caches.update',
      handle: async (req, res, _url, [id]) => {
        const body = await readJson(req);
        answer(res, body.ok ? store.update(byName(id!), body.value) : body.failure);
      },
    },
    {
      method: 'DELETE',
      path: /^\/v1beta\/cachedContents\/([^/:]+)$/,
      kind: 'caches.delete',
      handle: (_req, res, _url, [id]) => (store.delete(byName(id!)) ? sendJson(res, 200, {}) : sendFailure(res, CACHE_NOT_FOUND)),
    },
  ];
}
