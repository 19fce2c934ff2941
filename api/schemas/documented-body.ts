import type { SwaggerTransform } from '@fastify/swagger';
import type { TSchema } from '@sinclair/typebox';

export interface DocumentedMedia {
  schema: TSchema;
  /** Named examples, shown in the UI's example picker. */
  examples: Record<string, { summary: string; value: unknown }>;
}

/**
 * Route config that documents a request body in OpenAPI without putting it in the route's
 * `schema.body`. A `schema.body` would make Fastify validate the body first, with its own ajv
 * (first error only, type coercion, unknown fields removed) and its own message; these routes
 * validate the body themselves (every problem by path, YAML bodies too) and keep their 400s.
 */
export function documentedBody(content: Record<string, DocumentedMedia>): { swaggerTransform: SwaggerTransform } {
  // @fastify/swagger reads a media type's examples from `x-examples` on its schema.
  const body = { content: Object.fromEntries(Object.entries(content).map(([type, media]) => [type, { schema: { ...media.schema, 'x-examples': media.examples } }])) };
  return {
    swaggerTransform: ({ schema, url }) => ({ schema: { ...schema, body }, url }),
  };
}
