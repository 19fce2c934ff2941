/**
 * Farm vs a naive p-limit loop under the same simulated Gemini quota. The simulator enforces
 * RPM/TPM per model and answers 429 beyond them; we measure, over a steady-state window,
 * successful requests per minute and input tokens per minute as a share of the cap, and the
 * share of calls answered 429. Saves bench/results/quota-throughput.json.
 *
*   npm run bench -- quota-throughput         (BENCH_WINDOW_S, BENCH_RPM, BENCH_TPM, BENCH_WORKERS to change)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliArgs } from './lib/procs.js';
import pLimit from 'p-limit';
import { loadConfig } from '../core/config.js';
import { createGeminiClient } from '../core/gemini/create-gemini-client.js';
import { createLogger } from '../core/logger.js';
import { createRedis, deleteKeys } from '../core/redis.js';
import { startFarmServer } from '../producer/main.js';
import { startSim } from '../sim/index.js';
import { delta, readSimCounters, type SimCounters } from './sim-metrics.js';

const RPM = Number(process.env.BENCH_RPM ?? 600);
const TPM = Number(process.env.BENCH_TPM ?? 400_000);
const WINDOW_S = Number(process.env.BENCH_WINDOW_S ?? 180);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? 15);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const NAIVE_CONCURRENCY = Number(process.env.BENCH_NAIVE_CONCURRENCY ?? 64);
const MODEL = 'gemini-2.5-flash';
const SIM = { rpm: RPM, tpm: TPM, latencyMs: 400, jitterMs: 200, seed: 1 };
const ROOT = new URL('../', import.meta.url).pathname;

interface Figures {
  windowSeconds: number;
  ok: number;
  rateLimited: number;
  rpm: number;
  rpmShareOfCap: number;
  tpm: number;
  tpmShareOfCap: number;
  share429: number;
}

function figures(d: SimCounters, seconds: number): Figures {
  const ok = d.byCode['200'] ?? 0;
  const rateLimited = d.byCode['429'] ?? 0;
  const total = Object.values(d.byCode).reduce((a, b) => a + b, 0);
  const minutes = seconds / 60;
  return {
    windowSeconds: seconds,
    ok,
    rateLimited,
    rpm: ok / minutes,
    rpmShareOfCap: ok / minutes / RPM,
    tpm: d.promptTokens / minutes,
    tpmShareOfCap: d.promptTokens / minutes / TPM,
    share429: total === 0 ? 0 : rateLimited / total,
  };
}

async function measure(simUrl: string): Promise<Figures> {
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const start = await readSimCounters(simUrl);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, WINDOW_S * 1000));
  return figures(delta(start, await readSimCounters(simUrl)), (Date.now() - t0) / 1000);
}

async function farmPhase(): Promise<Figures> {
  const sim = await startSim({ port: 0, ...SIM });
  const prefix = `bench-quota-${Date.now().toString(36)}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-bench-'));
  const env = { ...process.env, SDF_PREFIX: prefix, DATA_DIR: dataDir, GEMINI_BASE_URL: sim.url, GEMINI_API_KEY: '', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'warn', WORKER_CONCURRENCY: '64' };
  const config = loadConfig(env);
  const server = await startFarmServer({ config, logger: createLogger('warn'), port: 0 });
  const workers: ChildProcess[] = [];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(spawn(process.execPath, cliArgs(['worker']), { env, stdio: 'inherit' }));
  }
  const needed = Math.ceil((RPM * (WINDOW_S + WARMUP_S + 60)) / 60) * 1.5;
  const facts = 10;
  const docsPerIdea = Math.ceil(needed / (facts * 5 * 10));
  const res = await fetch(`${server.api.url}/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'bench-quota',
      universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
      keyFacts: Array.from({ length: facts }, (_, i) => `Aster fact number ${i}.`),
      documents: { model: MODEL, docTypesPerFact: 5, ideasPerType: 10, docsPerIdea },
      limits: { [MODEL]: { rpm: RPM, tpm: TPM } },
    }),
  });
  const { id } = (await res.json()) as { id: string };
  const result = await measure(sim.url);
  await fetch(`${server.api.url}/v1/runs/${id}/cancel`, { method: 'POST' });
  for (const w of workers) w.kill('SIGKILL');
  await server.close();
  await sim.close();
  const redis = createRedis(config.redisUrl);
  await deleteKeys(redis, prefix);
  redis.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
  return result;
}

/** What a hand-written script does: a concurrency cap, and on 429 wait a second and try again. */
async function naivePhase(): Promise<Figures> {
  const sim = await startSim({ port: 0, ...SIM });
  const gemini = createGeminiClient({ baseUrl: sim.url, timeoutMs: 60_000 });
  const limit = pLimit(NAIVE_CONCURRENCY);
  let stop = false;
  const one = async (n: number): Promise<void> => {
    while (!stop) {
      try {
        await gemini.models.generateContent({
          model: MODEL,
          contents: `<document_type>\nblog post\n</document_type>\n<idea>\nidea ${n}\n</idea>\n<fact>\nAster admits uncertainty.\n</fact>\nWrite the full document.`,
        });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  let n = 0;
  const pump = (async () => {
    const inflight = new Set<Promise<void>>();
    while (!stop) {
      while (inflight.size < NAIVE_CONCURRENCY * 2 && !stop) {
        const p: Promise<void> = limit(() => one(n++)).finally(() => inflight.delete(p));
        inflight.add(p);
      }
      await Promise.race(inflight);
    }
  })();
  const result = await measure(sim.url);
  stop = true;
  await pump.catch(() => {});
  await sim.close();
  return result;
}

const farm = await farmPhase();
const naive = await naivePhase();
const report = {
  benchmark: 'quota-throughput',
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  cap: { model: MODEL, rpm: RPM, tpm: TPM, simLatencyMs: SIM.latencyMs, simJitterMs: SIM.jitterMs },
  farm: { workers: WORKERS, concurrencyPerStage: 64, ...farm },
  naive: { concurrency: NAIVE_CONCURRENCY, retryOn429: 'sleep 1 s', ...naive },
};
writeFileSync(join(ROOT, 'bench/results/quota-throughput.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
process.exit(0);
