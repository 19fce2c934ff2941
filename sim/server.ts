import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { detectStage } from './detect-stage.js';
import { FaultSchedule } from './fault-schedule.js';
import { ImplicitCache } from './implicit-cache.js';
import { createSimMetrics } from './metrics.js';
import { resolveSimOptions, type SimOptions } from './options.js';
import { SimQuota, type QuotaPeak } from './quota.js';
import { Random, hash32 } from './random.js';
import { respond } from './respond.js';
import { countTokens, truncateToTokens } from './tokens.js';

export interface SimStats {
  requests: Record<string, Record<string, number>>;
  /** Answers by finish reason other than STOP (SAFETY, MAX_TOKENS). */
  finishReasons: Record<string, number>;
  stages: Record<string, number>;
  planted: Record<string, number>;
  documents: number;
  /** Per model, the fullest quota window so far (see SimQuota): what share of the quota a client achieved. */
  quota: Record<string, QuotaPeak>;
  /** Model requests (generateContent, countTokens) received and not yet answered. */
  inFlight: number;
  /** The most `inFlight` has been since the simulator started: what a client managed to hold open. */
  peakInFlight: number;
  /** Answers that reported cached prompt tokens, and how many they reported in all. */
  caching: { implicit: { hits: number; tokens: number } };
}

export interface RunningSim {
  url: string;
  port: number;
  options: SimOptions;
  stats(): SimStats;
  close(): Promise<void>;
}

interface Part {
  text?: string;
}
interface GenerateRequest {
  contents?: { role?: string; parts?: Part[] }[] | string;
  systemInstruction?: { parts?: Part[] } | string;
  generationConfig?: { maxOutputTokens?: number; responseSchema?: unknown; responseJsonSchema?: unknown; responseMimeType?: string };
}

const ROUTE = /^\/v1beta\/models\/([^/:]+):(generateContent|countTokens)$/;

function textOf(value: GenerateRequest['contents'] | GenerateRequest['systemInstruction']): string {
  if (!value) return '';
  if (typeof value === 'string') return value;
  const list = Array.isArray(value) ? value : [value];
  return list.flatMap((c) => (c.parts ?? []).map((p) => p.text ?? '')).join('\n');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function geminiError(code: number, status: string, message: string, details: unknown[] = []) {
  return { error: { code, message, status, ...(details.length ? { details } : {}) } };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A Gemini-compatible HTTP server: same paths, request and response JSON, usage metadata, finish
 * reasons and error shapes as the Gemini API, so the real SDK runs against it unchanged.
 */
export async function startSim(partial: Partial<SimOptions> = {}): Promise<RunningSim> {
  const options = resolveSimOptions(partial);
  const metrics = createSimMetrics();
  const quota = new SimQuota({ rpm: options.rpm, tpm: options.tpm, rpd: options.rpd, windowMs: options.quotaWindowMs });
  const stats: Omit<SimStats, 'quota' | 'inFlight' | 'peakInFlight'> = { requests: {}, finishReasons: {}, stages: {}, planted: {}, documents: 0, caching: { implicit: { hits: 0, tokens: 0 } } };
  const implicitCache = new ImplicitCache();
  let inFlight = 0;
  let peakInFlight = 0;
  const snapshot = (): SimStats => ({ ...structuredClone(stats), quota: quota.peaks(), inFlight, peakInFlight });
  const recentDocs: string[] = [];
  const held = new Set<ServerResponse>();
  let counter = 0;
  const faults = new FaultSchedule(options.seed);

  const count = (model: string, code: number | 'timeout') => {
    metrics.requests.inc({ model, code: String(code) });
    const byModel = (stats.requests[model] ??= {});
    byModel[String(code)] = (byModel[String(code)] ?? 0) + 1;
  };

  const handleModelCall = async (req: IncomingMessage, res: ServerResponse, model: string, method: string) => {
    if (!req.headers['x-goog-api-key'] && !/key=/.test(req.url ?? '')) {
      count(model, 403);
      return sendJson(res, 403, geminiError(403, 'PERMISSION_DENIED', 'Method doesn\'t allow unregistered callers. Please use an API key.'));
    }
    let body: GenerateRequest;
    try {
      body = JSON.parse((await readBody(req)) || '{}') as GenerateRequest;
    } catch {
      count(model, 400);
      return sendJson(res, 400, geminiError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'));
    }
    const user = textOf(body.contents);
    const system = textOf(body.systemInstruction);
    const promptTokens = countTokens(system + user);
    if (method === 'countTokens') {
      count(model, 200);
      return sendJson(res, 200, { totalTokens: promptTokens });
    }
    if (!user) {
      count(model, 400);
      return sendJson(res, 400, geminiError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified'));
    }
    const random = new Random(options.seed ^ hash32(user) ^ Math.imul(++counter, 0x9e3779b1));
    // Quota is counted on arrival, as Gemini does; the work (latency) comes after.
    const decision = quota.admit(model, promptTokens);
    // Quota refusals are not also given a scheduled fault: the schedule counts admitted requests.
    const fault = decision.ok ? faults.next({ '429': options.errorRate429, '5xx': options.errorRate5xx, timeout: options.timeoutRate }) : undefined;
    const latency = options.latencyMs + (options.jitterMs > 0 ? random.next() * options.jitterMs : 0);
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    if (!decision.ok || fault === '429') {
      // A spurious 429 (overload, not quota) asks for a one-second pause, as Gemini typically does.
      const retryMs = decision.retryAfterMs ?? 1000;
      count(model, 429);
      return sendJson(
        res,
        429,
        geminiError(429, 'RESOURCE_EXHAUSTED', `You exceeded your current quota, please check your plan and billing details. Please retry in ${(retryMs / 1000).toFixed(3)}s.`, [
          {
            '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
            violations: [{ quotaMetric: decision.quotaMetric ?? 'generativelanguage.googleapis.com/generate_requests_per_model', quotaId: decision.quotaId ?? 'GenerateRequestsPerMinutePerProjectPerModel', quotaDimensions: { location: 'global', model }, quotaValue: String(decision.limit ?? 0) }],
          },
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${Math.max(1, Math.ceil(retryMs / 1000))}s` },
        ]),
      );
    }
    if (fault === '5xx') {
      const code = random.chance(0.5) ? 500 : 503;
      count(model, code);
      return sendJson(res, code, code === 500 ? geminiError(500, 'INTERNAL', 'An internal error has occurred.') : geminiError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'));
    }
    if (fault === 'timeout') {
      held.add(res);
      count(model, 'timeout');
      const timer = setTimeout(() => res.destroy(), options.timeoutHoldMs);
      res.once('close', () => {
        clearTimeout(timer);
        held.delete(res);
      });
      return;
    }

    const config = body.generationConfig ?? {};
    const schema = config.responseJsonSchema ?? config.responseSchema;
    const stage = detectStage(schema, system, user);
    stats.stages[stage] = (stats.stages[stage] ?? 0) + 1;
    if (random.chance(options.safetyRate)) {
      count(model, 200);
      stats.finishReasons.SAFETY = (stats.finishReasons.SAFETY ?? 0) + 1;
      metrics.tokens.inc({ model, kind: 'prompt' }, promptTokens);
      return sendJson(res, 200, {
        candidates: [{ finishReason: 'SAFETY', index: 0, safetyRatings: [{ category: 'HARM_CATEGORY_DANGEROUS_CONTENT', probability: 'HIGH', blocked: true }] }],
        usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
        modelVersion: model,
        responseId: randomBytes(8).toString('hex'),
      });
    }
    const answer = respond(stage, system, user, random, options, recentDocs);
    for (const id of answer.planted) {
      metrics.planted.inc({ pattern: id });
      stats.planted[id] = (stats.planted[id] ?? 0) + 1;
    }
    if (stage === 'documents') stats.documents++;
    let text = answer.text;
    let finishReason = 'STOP';
    if (schema && random.chance(options.malformedRate)) text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    const cap = config.maxOutputTokens ?? 65_536;
    if (countTokens(text) > cap || random.chance(options.maxTokensRate)) {
      text = truncateToTokens(text, cap);
      finishReason = 'MAX_TOKENS';
      stats.finishReasons.MAX_TOKENS = (stats.finishReasons.MAX_TOKENS ?? 0) + 1;
    }
    const outputTokens = countTokens(text);
    const cached = implicitCache.cachedTokens(model, system, countTokens(system), options.implicitCacheMinTokens);
    if (cached > 0) {
      stats.caching.implicit.hits++;
      stats.caching.implicit.tokens += cached;
    }
    metrics.tokens.inc({ model, kind: 'prompt' }, promptTokens);
    metrics.tokens.inc({ model, kind: 'output' }, outputTokens);
    count(model, 200);
    return sendJson(res, 200, {
      candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason, index: 0 }],
      usageMetadata: { promptTokenCount: promptTokens, candidatesTokenCount: outputTokens, totalTokenCount: promptTokens + outputTokens, ...(cached > 0 ? { cachedContentTokenCount: cached } : {}) },
      modelVersion: model,
      responseId: randomBytes(8).toString('hex'),
    });
  };

  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = ROUTE.exec(path);
    const fail = (err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, geminiError(500, 'INTERNAL', String(err)));
    };
    if (req.method === 'POST' && route) {
      // Counted from arrival until the response ends or its connection closes, whatever the outcome.
      metrics.inFlight.set(++inFlight);
      peakInFlight = Math.max(peakInFlight, inFlight);
      res.once('close', () => metrics.inFlight.set(--inFlight));
      return void handleModelCall(req, res, decodeURIComponent(route[1]!), route[2]!).catch(fail);
    }
    if (req.method === 'GET' && path === '/metrics') {
      return void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text), fail);
    }
    if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/sim/stats') return sendJson(res, 200, snapshot());
    if (req.method === 'GET' && path.startsWith('/v1beta/models')) {
      const name = path.split('/')[3];
      const model = (id: string) => ({ name: `models/${id}`, displayName: id, inputTokenLimit: 1_048_576, outputTokenLimit: 65_536, supportedGenerationMethods: ['generateContent', 'countTokens'] });
      return sendJson(res, 200, name ? model(decodeURIComponent(name)) : { models: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'].map(model) });
    }
    sendJson(res, 404, geminiError(404, 'NOT_FOUND', `no route ${req.method} ${path}`));
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
        for (const res of held) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
