import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { batchRoutes } from './batch-routes.js';
import { Batches, type BatchStats } from './batches.js';
import { CachedContentStore, cachedContentRoutes } from './cached-contents.js';
import { FileStore } from './file-store.js';
import { fileRoutes } from './files.js';
import { Generator, type GenerationStats } from './generate.js';
import { failure, hasApiKey, sendFailure, sendJson, UNREGISTERED_CALLER, type Route } from './http.js';
import { createSimMetrics } from './metrics.js';
import { ModelCalls, type OnlineStats } from './model-calls.js';
import { resolveSimOptions, type SimOptions } from './options.js';

export interface SimStats extends OnlineStats, GenerationStats {
  /**
   * Every API call received, by kind, named after the SDK method that makes it
   * (`models.generateContent`, `batches.create`, `batches.get`, `files.upload`, `files.uploadChunk`,
   * `files.download`, `caches.create`, ...), whatever its outcome. A batch counts once here
   * (`batches.create`); the requests inside it are counted in `batch.requests`.
   */
  calls: Record<string, number>;
  /** The Batch API: batches by state, and the requests answered inside them. */
  batch: BatchStats;
  /** The Files API: files held and their bytes (uploads and batch results). */
  files: { count: number; bytes: number };
}

export interface RunningSim {
  url: string;
  port: number;
  /** The options in force; changing a field changes the running simulator (rates, batchOutcome...). */
  options: SimOptions;
  stats(): SimStats;
  close(): Promise<void>;
}

const MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'];

/**
 * A Gemini-compatible HTTP server: same paths, request and response JSON, usage metadata, finish
 * reasons and error shapes as the Gemini API, so the real SDK runs against it unchanged: online
 * generateContent and countTokens, the Batch API, the Files API with its resumable upload, and
 * context caching (explicit `cachedContents`, and implicit caching of repeated prompt prefixes).
 */
export async function startSim(partial: Partial<SimOptions> = {}): Promise<RunningSim> {
  const options = resolveSimOptions(partial);
  const metrics = createSimMetrics();
  const caches = new CachedContentStore(() => options.explicitCacheMinTokens);
  const files = new FileStore(() => options.filesMaxBytes);
  const generator = new Generator(options, metrics, caches);
  const modelCalls = new ModelCalls(options, metrics, generator);
  const batches = new Batches(options, generator, files, metrics);
  const calls: Record<string, number> = {};

  const snapshot = (): SimStats => {
    const held = files.list();
    return { ...modelCalls.stats(), ...generator.stats(), calls: { ...calls }, batch: batches.stats(), files: { count: held.length, bytes: files.bytesHeld } };
  };

  const model = (id: string) => ({ name: `models/${id}`, displayName: id, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, supportedGenerationMethods: ['generateContent', 'countTokens', 'batchGenerateContent', 'createCachedContent'] });
  const routes: Route[] = [
    ...modelCalls.routes(),
    ...batchRoutes(batches),
    ...fileRoutes(files),
    ...cachedContentRoutes(caches),
    { method: 'GET', path: /^\/v1beta\/models$/, kind: 'models.list', handle: (_req, res) => sendJson(res, 200, { models: MODELS.map(model) }) },
    { method: 'GET', path: /^\/v1beta\/models\/([^/:]+)$/, kind: 'models.get', handle: (_req, res, _url, [id]) => sendJson(res, 200, model(id!)) },
  ];

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname;
    const fail = (err: unknown) => {
      if (!res.headersSent) sendFailure(res, failure(500, 'INTERNAL', String(err)));
      else res.destroy();
    };
    if (req.method === 'GET' && path === '/metrics') {
      return void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text), fail);
    }
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/sim/stats') return sendJson(res, 200, snapshot());
    for (const route of routes) {
      if (route.method !== req.method) continue;
      const match = route.path.exec(path);
      if (!match) continue;
      const kind = typeof route.kind === 'string' ? route.kind : route.kind(url);
      calls[kind] = (calls[kind] ?? 0) + 1;
      metrics.calls.inc({ kind });
      if (route.needsKey !== false && !hasApiKey(req)) return sendFailure(res, UNREGISTERED_CALLER);
      try {
        return void Promise.resolve(route.handle(req, res, url, match.slice(1).map((p) => decodeURIComponent(p)))).catch(fail);
      } catch (err) {
        return fail(err);
      }
    }
    sendFailure(res, failure(404, 'NOT_FOUND', `no route ${req.method} ${path}`));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  return {
    url,
    port,
    options,
    stats: snapshot,
    close: () =>
      new Promise<void>((resolve) => {
        modelCalls.close();
        batches.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
