import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

/** Where the UI lives; its JSON document is at `${DOCS_PREFIX}/json` (YAML at `/yaml`). */
export const DOCS_PREFIX = '/docs';

/** The tags the routes use, in the order the UI shows them. */
export const API_TAGS = [
  { name: 'runs', description: 'Submit, list, read, change, cancel and delete runs; their dead letters.' },
  { name: 'export', description: "A run's committed output as NDJSON." },
  { name: 'patterns', description: "A run's pattern report: LLM audits and corpus features." },
  { name: 'evals', description: 'Trait and belief evaluations of target models: submit, list, read the report, cancel.' },
  { name: 'health', description: 'Liveness, readiness and Prometheus metrics (open without a token).' },
] as const;

/**
 * The OpenAPI 3.1 document, generated from the route schemas (register before the routes: it
 * collects them as they are added), and Swagger UI served from the package's own static files.
 * OpenAPI 3.1 because its schemas are JSON Schema 2020-12, so the TypeBox schemas the routes
 * validate with go in unchanged (3.0 would need `exclusiveMinimum` and `const` rewritten).
 */
export const openapiPlugin = fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'sdf-farm API',
          version: 'v1',
          description:
            'Submit synthetic-document and chat generation runs, follow them, export what they produced. ' +
            'With SDF_API_TOKEN (or SDF_API_TOKENS_FILE) set, /v1 routes need `Authorization: Bearer <token>`; ' +
            `health, metrics and these docs (${DOCS_PREFIX}, ${DOCS_PREFIX}/json) are open.`,
        },
        tags: [...API_TAGS],
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
    });
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX, uiConfig: { docExpansion: 'list', deepLinking: true } });
  },
  { name: 'openapi' },
);
