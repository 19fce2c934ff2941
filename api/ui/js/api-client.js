/**
 * Calls to the farm's API from the page. The token the user types is kept in sessionStorage (this
 * tab only, gone when it closes) and sent as `Authorization: Bearer` on every call.
 */
const TOKEN_KEY = 'sdf-farm.token';

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
    access.update('unknown');
  },
};

/**
 * What the page knows of its access: `open` (the farm has no tokens), `token` (the token was
 * accepted for reading), `needed` (401: no token, or one the farm does not know).
 */
export const access = {
  state: 'unknown',
  listeners: new Set(),
  update(state) {
    if (state === this.state) return;
    this.state = state;
    for (const listener of this.listeners) listener(state);
  },
  /** Cancel and export are offered when reads work; the farm still refuses a token whose role is too weak (403). */
  get canAct() {
    return this.state === 'open' || this.state === 'token';
  },
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

async function call(path, method, as) {
  const secret = token.get();
  const res = await fetch(path, { method, headers: secret ? { authorization: `Bearer ${secret}` } : {} });
  if (res.status === 401) access.update('needed');
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, body.error ?? `${res.status} ${res.statusText}`);
  }
  if (method === 'GET') access.update(secret ? 'token' : 'open');
  return as === 'blob' ? res.blob() : res.json();
}

export const api = {
  runs: () => call('/v1/runs?limit=100', 'GET'),
  run: (id) => call(`/v1/runs/${encodeURIComponent(id)}`, 'GET'),
  patterns: (id) => call(`/v1/runs/${encodeURIComponent(id)}/patterns`, 'GET'),
  samples: (id, query) => call(`/v1/runs/${encodeURIComponent(id)}/samples?${new URLSearchParams(query)}`, 'GET'),
  cancel: (id) => call(`/v1/runs/${encodeURIComponent(id)}/cancel`, 'POST'),
  exportFile: (id, kind, format) => call(`/v1/runs/${encodeURIComponent(id)}/export?${new URLSearchParams({ kind, format })}`, 'GET', 'blob'),
};
