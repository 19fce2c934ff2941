import type { FastifyRequest } from 'fastify';

/**
 * Fastify answers a body above its bodyLimit with 413 (FST_ERR_CTP_BODY_TOO_LARGE), from the
 * content-length when there is one, else once a chunked body passes the limit. The farm answers
 * every operator limit alike, 422 naming the number and the limit; this is that problem, or
 * undefined when `error` is something else.
 */
export function bodyTooLargeProblem(error: unknown, request: FastifyRequest, maxBytes: number): string | undefined {
  if ((error as { code?: unknown }).code !== 'FST_ERR_CTP_BODY_TOO_LARGE') return undefined;
  const declared = Number(request.headers['content-length']);
  const size = Number.isInteger(declared) && declared > maxBytes ? `${declared} bytes` : `more than ${maxBytes} bytes (sent without content-length, stopped at the limit)`;
  return `(body): ${size}, above the farm's maximum of ${maxBytes} bytes per request (SDF_MAX_BODY_BYTES)`;
}
