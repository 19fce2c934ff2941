import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ErrorSchema, RunIdParamsSchema } from '../schemas/run-schemas.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Only this origin's own files run, and nothing is framed: record text is always inserted as text,
 * and should that ever slip, an injected script or inline handler is still refused.
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** The run page's folder (api/ui), found from this file whether run from source or from dist/. */
export function runPageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'api', 'ui', 'index.html'))) return join(dir, 'api', 'ui');
    dir = dirname(dir);
  }
  throw new Error('run page files not found: expected api/ui/index.html beside the package');
}

interface StaticFile {
  body: Buffer;
  type: string;
}

/** Every file of the folder, read once: the set of files served is fixed, so no request path reaches the disk. */
function readFiles(root: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || !type) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(relative(root, path).split('\\').join('/'), { body: readFileSync(path), type });
  }
  return files;
}

// Constants, not literals in the calls: summary and tags are typed by @fastify/swagger's FastifySchema augmentation.
const html = { 200: Type.String({ description: 'text/html' }) };
const LIST_PAGE_SCHEMA = { summary: 'The run page: the list of runs (HTML)', tags: ['ui'], hide: true, response: html };
const RUN_PAGE_SCHEMA = { summary: 'The run page of one run (HTML)', tags: ['ui'], hide: true, params: RunIdParamsSchema, response: html };
const STATIC_SCHEMA = {
  summary: "The run page's scripts and styles",
  tags: ['ui'],
  hide: true,
  params: Type.Object({ '*': Type.String() }),
  response: { 200: Type.String({ description: 'the file' }), 404: ErrorSchema },
};

/**
 * The run page: plain HTML, CSS and JavaScript modules from api/ui/, served by the API itself
 * (no build step, nothing fetched from elsewhere). The page is open; the data it shows comes from
 * /v1 with the token the user types into it.
 */
export const uiRoutes: FastifyPluginAsync = async (app) => {
  const files = readFiles(runPageDir());
  const index = files.get('index.html')!;
  const send = (reply: FastifyReply, file: StaticFile) => reply.headers(SECURITY_HEADERS).type(file.type).send(file.body);

  app.get('/ui', { schema: LIST_PAGE_SCHEMA }, async (_request, reply) => send(reply, index));
  app.get('/ui/', { schema: LIST_PAGE_SCHEMA }, async (_request, reply) => send(reply, index));
  app.get('/ui/runs/:id', { schema: RUN_PAGE_SCHEMA }, async (_request, reply) => send(reply, index));
  app.get<{ Params: { '*': string } }>('/ui/static/*', { schema: STATIC_SCHEMA }, async (request, reply) => {
    const file = files.get(request.params['*']);
    if (!file || request.params['*'] === 'index.html') return reply.code(404).send({ error: `no run page file ${request.params['*']}` });
    return send(reply, file);
  });
};
