import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import t from 'tap';
import { markerRegex, type PatternReport } from '../../core/audit/llm-audit.js';
import { loadConfig } from '../../core/config.js';
import { createGeminiClient } from '../../core/gemini/create-gemini-client.js';
import { limiterKeys, runKeys } from '../../core/keys.js';
import { createLogger } from '../../core/logger.js';
import { AUDIT_QUEUE, type AuditTaskData } from '../../core/queues.js';
import { deleteKeys } from '../../core/redis.js';
import type { UsageReport } from '../../core/runs/run-results.js';
import { RunStore } from '../../core/runs/run-store.js';
import { resolveStageSettings } from '../../core/spec/resolve-stage-settings.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import { startSim } from '../../sim/index.js';
import { startWorkerProcess } from '../../workers/main.js';
import { plantedCorpus } from '../helpers/corpus.js';
import { TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';

/**
 * The audit worker alone (no producer), on real Redis and the real SDK against the simulator:
 * what it stores, what it spends and through which gate, all visible in Redis.
 */
t.test('a pattern audit: markers the labels bear out, calls through the farm quota, spend reported to the run’s owner', async (t) => {
  const prefix = uniquePrefix('audit');
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-audit-'));
  const sim = await startSim({ port: 0, seed: 11 });
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
  const config = loadConfig({ REDIS_URL: TEST_REDIS_URL, SDF_PREFIX: prefix, DATA_DIR: dataDir, GEMINI_BASE_URL: sim.url, GEMINI_API_KEY: '', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const worker = await startWorkerProcess({ config, gemini: createGeminiClient({ baseUrl: sim.url, timeoutMs: 30_000 }), logger: createLogger(config.logLevel), stages: [], metricsServer: false });
  const queue = new Queue<AuditTaskData>(AUDIT_QUEUE, { connection: redis, prefix });
  t.teardown(async () => {
    await queue.close();
    await worker.close(2000);
    await sim.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const base = { universe: '- Aster admits uncertainty.', documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 }, filters: { audit: { enabled: true, maxPrevalence: 0.2 } } } as RunSpec;
  const model = resolveStageSettings(base, 'documents').model;
  const { run } = await new RunStore(redis, prefix).create({ ...base, limits: { [model]: { rpm: 10_000 } } });

  // Placeholders and stock vocabulary well above 20%; the stock name under it.
  const corpus = plantedCorpus(60, 'document', { placeholder: 0.4, 'stock-vocabulary': 0.45, 'stock-name': 0.1 }, 5);
  const job = await queue.add('audit', { runId: run.id, kind: 'document', samples: corpus.items });
  const deadline = Date.now() + 60_000;
  let state = await job.getState();
  while (state !== 'completed' && state !== 'failed' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    state = await job.getState();
  }
  t.equal(state, 'completed', 'the audit ran');

  const report = JSON.parse((await redis.get(runKeys(prefix, run.id).patterns('document'))) ?? 'null') as PatternReport;
  t.ok(report, 'the report is stored');
  for (const name of ['placeholder', 'stock-vocabulary']) {
    const pattern = report.patterns.find((p) => p.name === name);
    t.ok(pattern?.active, `${name} is active (${pattern?.prevalence})`);
    t.ok(pattern?.marker, `${name} has a marker to enforce`);
    if (!pattern?.marker) continue;
    // Judged against the truth the corpus was built with, by the matcher the filters use.
    const regex = markerRegex(pattern.marker);
    const planted = corpus.planted[name]!;
    const carriers = corpus.items.filter((i) => planted.has(i.id));
    const others = corpus.items.filter((i) => !planted.has(i.id));
    const recall = carriers.filter((i) => regex.test(i.text)).length / carriers.length;
    const falsePositives = others.filter((i) => regex.test(i.text)).length / others.length;
    t.ok(recall >= 0.9, `${name}: marker ${JSON.stringify(pattern.marker)} finds ${(recall * 100).toFixed(0)}% of the carriers`);
    t.ok(falsePositives <= 0.05, `${name}: and ${(falsePositives * 100).toFixed(0)}% of the items without it`);
  }

  // Every audit call was granted by the farm-wide limiter, under the run's limits for the model.
  const simStats = sim.stats();
  const auditCalls = Object.entries(simStats.stages)
    .filter(([stage]) => stage.startsWith('audit-'))
    .reduce((sum, [, n]) => sum + n, 0);
  t.ok(auditCalls >= 13, `the audit made its calls (${auditCalls}: 6 scan, 1 cluster, 6 rate)`);
  t.equal(await redis.zcard(limiterKeys(prefix, model).log), auditCalls, 'each went through the farm quota');

  // Spend goes to the run's owner as usage reports; the worker writes no run counter itself.
  const stream = await redis.xrange(runKeys(prefix, run.id).results, '-', '+');
  const reports = stream.filter(([, fields]) => fields[0] === 'u').map(([, fields]) => JSON.parse(fields[1]!) as UsageReport);
  const reported = reports.filter((r) => r.stage === 'audit').map((r) => r.usage);
  t.equal(reported.reduce((sum, u) => sum + u.calls, 0), auditCalls, 'each call is reported on the run’s results stream');
  t.ok(reported.every((u) => u.promptTokens > 0), 'with its tokens');
  t.equal(await redis.hget(runKeys(prefix, run.id).stats, 'calls'), null, 'and the run’s counters are left to the producer');
});
