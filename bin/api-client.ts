import type { EvalStatus } from '../core/evals/eval-status.js';
import type { RunStatus } from '../core/runs/run-status.js';

/** Where the remote commands find the farm when neither `--api` nor `SDF_API_URL` says. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface ApiClientOptions {
  /** The farm API's base URL (`--api`, else `SDF_API_URL`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>` when set (`SDF_API_TOKEN`). */
  token?: string | undefined;
}

/** The body of every 4xx/5xx answer of the API. */
export interface ApiErrorBody {
  error?: string;
  problems?: string[];
}

/** No answer at all: nothing listens at the URL, DNS failed, the connection broke. */
export class ApiUnreachableError extends Error {
  override name = 'ApiUnreachableError';
  constructor(readonly baseUrl: string, cause: unknown) {
    super(`cannot reach the farm API at ${baseUrl}: ${describeCause(cause)}; set --api or SDF_API_URL to the farm's address`);
  }
}

/** An answer that is not a success; the message says what to do about it. */
export class ApiResponseError extends Error {
  override name = 'ApiResponseError';
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
    message: string,
  ) {
    super(message);
  }
}

export type ExportKind = 'documents' | 'chats' | 'rejected';

export interface ExportRequest {
  kind: ExportKind;
  format: string;
  /** Records to skip: those an interrupted download already holds. */
  offset?: number;
}

/**
 * The farm's HTTP API as the CLI's remote commands use it: one place that knows the routes, sends
 * the token, and turns failures into errors whose message names the fix (the URL, the token, the run).
 */
export class FarmApiClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;

  constructor(options: ApiClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new ApiUsageError(`--api / SDF_API_URL: not a URL: ${options.baseUrl}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ApiUsageError(`--api / SDF_API_URL: must be http:// or https://, got ${options.baseUrl}`);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token || undefined;
  }

  /** POST /v1/runs (`dryRun`: the estimate, nothing created). */
  submit(specText: string, contentType: string, options: { dryRun?: boolean; idempotencyKey?: string } = {}): Promise<Record<string, unknown> & { id?: string; state?: string }> {
    const headers: Record<string, string> = { 'content-type': contentType };
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    return this.#json('POST', `/v1/runs${options.dryRun ? '?dryRun=true' : ''}`, { headers, body: specText });
  }

  listRuns(): Promise<{ runs: RunStatus[] }> {
    return this.#json('GET', '/v1/runs');
  }

  runStatus(runId: string): Promise<RunStatus> {
    return this.#json('GET', `/v1/runs/${encodeURIComponent(runId)}`, { runId });
  }

  cancel(runId: string): Promise<{ id: string; state: string; cancelled: boolean }> {
    return this.#json('POST', `/v1/runs/${encodeURIComponent(runId)}/cancel`, { runId });
  }

  retryFailed(runId: string): Promise<{ id: string; retried: number }> {
    return this.#json('POST', `/v1/runs/${encodeURIComponent(runId)}/retry-failed`, { runId });
  }

  deleteRun(runId: string): Promise<{ id: string; deleted: boolean } & Record<string, unknown>> {
    return this.#json('DELETE', `/v1/runs/${encodeURIComponent(runId)}`, { runId });
  }

  /** POST /v1/evals: the eval's id. */
  submitEval(specText: string, contentType: string): Promise<{ id: string; state: string }> {
    return this.#json('POST', '/v1/evals', { headers: { 'content-type': contentType }, body: specText });
  }

  evalStatus(evalId: string): Promise<EvalStatus> {
    return this.#json('GET', `/v1/evals/${encodeURIComponent(evalId)}`);
  }

  /** GET /v1/runs/:id/export: the NDJSON body, to be streamed (an export can be gigabytes). */
  async exportStream(runId: string, request: ExportRequest): Promise<ReadableStream<Uint8Array>> {
    const query = new URLSearchParams({ kind: request.kind, format: request.format });
    if (request.offset) query.set('offset', String(request.offset));
    const res = await this.#send('GET', `/v1/runs/${encodeURIComponent(runId)}/export?${query}`, { runId });
    if (!res.body) throw new ApiResponseError(res.status, {}, `the farm API at ${this.baseUrl} answered the export of run ${runId} without a body`);
    return res.body;
  }

  async #json<T>(method: string, path: string, options: { headers?: Record<string, string>; body?: string; runId?: string } = {}): Promise<T> {
    const res = await this.#send(method, path, options);
    try {
      return (await res.json()) as T;
    } catch (err) {
      throw new ApiUnreachableError(this.baseUrl, err);
    }
  }

  async #send(method: string, path: string, options: { headers?: Record<string, string>; body?: string; runId?: string }): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(options.body !== undefined ? { body: options.body } : {}) });
    } catch (err) {
      throw new ApiUnreachableError(this.baseUrl, err);
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    let body: ApiErrorBody = {};
    try {
      body = JSON.parse(text) as ApiErrorBody;
    } catch {
      body = { error: text.slice(0, 200) || res.statusText };
    }
    throw new ApiResponseError(res.status, body, this.#explain(res.status, body, method, path, options.runId));
  }

  #explain(status: number, body: ApiErrorBody, method: string, path: string, runId: string | undefined): string {
    const said = body.error ?? `HTTP ${status}`;
    if (status === 401) {
      return this.#token
        ? `the farm API at ${this.baseUrl} refused the token in SDF_API_TOKEN (401: ${said}); set SDF_API_TOKEN to a token the farm accepts`
        : `the farm API at ${this.baseUrl} needs a token (401: ${said}); set SDF_API_TOKEN`;
    }
    if (status === 403) return `the token in SDF_API_TOKEN may not do this (403: ${said}); use a token with the role ${method} ${path.split('?')[0]} needs`;
    if (status === 404 && runId) return `run ${runId} not found at ${this.baseUrl} (${said})`;
    return `${method} ${this.baseUrl}${path.split('?')[0]}: ${status} ${said}`;
  }
}

/** A bad `--api` value: a usage error, found before any request. */
export class ApiUsageError extends Error {
  override name = 'ApiUsageError';
}

/** The useful part of a fetch failure: undici hides the reason (ECONNREFUSED, ENOTFOUND…) in `cause`. */
function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  if (cause?.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
