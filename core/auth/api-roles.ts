/**
 * The API's roles, weakest first: each one may do everything the ones before it may.
 * `read`: GET routes under /v1; `submit`: read + starting, changing and cancelling runs and evals;
 * `admin`: everything, deleting runs and the queue board (/queues) included.
 */
export const API_ROLES = ['read', 'submit', 'admin'] as const;

export type ApiRole = (typeof API_ROLES)[number];

export function isApiRole(value: unknown): value is ApiRole {
  return typeof value === 'string' && (API_ROLES as readonly string[]).includes(value);
}

/** Whether a token of role `held` may do what needs role `needed`. */
export function roleGrants(held: ApiRole, needed: ApiRole): boolean {
  return API_ROLES.indexOf(held) >= API_ROLES.indexOf(needed);
}
