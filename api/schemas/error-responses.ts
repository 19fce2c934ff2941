import { Type, type TObject } from '@sinclair/typebox';
import { ErrorSchema } from './run-schemas.js';

/** What each error status means on this API, and an answer of that kind, unless a route says more. */
const STANDARD: Record<number, { description: string; example: { error: string; problems?: string[] } }> = {
  400: { description: 'Invalid input: `error` names the field, `problems` (when given) lists every problem by path.', example: { error: 'querystring/limit must be <= 1000' } },
  401: { description: 'No bearer token, or an unknown one.', example: { error: 'missing or wrong bearer token (Authorization: Bearer <SDF_API_TOKEN>)' } },
  403: { description: 'The token lacks the role this route needs (`read`, `submit` or `admin`).', example: { error: 'this token has role read; POST /v1/runs needs submit' } },
  404: { description: 'No such run.', example: { error: 'run run_0m4g7x2a1b2c3d4e5f not found' } },
  409: { description: 'The request conflicts with the state of the run.', example: { error: 'run run_0m4g7x2a1b2c3d4e5f is cancelled; its failed tasks cannot be retried' } },
  415: { description: 'A body of a content type the route does not read.', example: { error: 'Unsupported Media Type' } },
  422: { description: 'Beyond a limit the operator set (SDF_MAX_BODY_BYTES, and for specs the quota ceilings, allowed models, tasks per run, universe length): `problems` names each with its number.', example: { error: "request body exceeds the farm's limits", problems: ["(body): 12000000 bytes, above the farm's maximum of 10485760 bytes per request"] } },
  429: { description: 'Too many requests: retry after the `retry-after` header.', example: { error: 'rate limit exceeded, retry in 1 second' } },
};

export type ErrorStatus = keyof typeof STANDARD & number;

/** One route's own wording of a status, with an example answer (defaults: the standard ones above). */
export interface ErrorDoc {
  description?: string;
  example?: { error: string; problems?: string[] };
}

/**
 * Response schemas `{error, problems?}` for the given statuses, each with its description and an
 * example, e.g. `errorResponses({ 404: {}, 409: { description: 'Another body used this key.' } })`.
 */
export function errorResponses(statuses: Partial<Record<ErrorStatus, ErrorDoc>>): Record<string, TObject> {
  const responses: Record<string, TObject> = {};
  for (const [code, doc] of Object.entries(statuses)) {
    const standard = STANDARD[Number(code)];
    if (!standard) throw new Error(`no standard error response for status ${code}`);
    responses[code] = Type.Object(ErrorSchema.properties, {
      description: doc?.description ?? standard.description,
      examples: [doc?.example ?? standard.example],
    });
  }
  return responses;
}

/** Routes under /v1: the bearer token, and the two answers the auth plugin may give instead of the route. */
export const V1_SECURITY = [{ bearer: [] as string[] }];
export const AUTH_ERRORS = { 401: {}, 403: {} } as const satisfies Partial<Record<ErrorStatus, ErrorDoc>>;
