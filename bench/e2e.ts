/**
 * The farm against the simplest thing that could work, in one run on one simulator (0 ms latency,
 * its own process): (a) a hand-written p-limit loop that makes BENCH_CALLS documents calls
 * (default 20,000) through the real SDK at concurrency 64, with the very prompt, model and config
 * the farm's documents stage sends; (b) the farm, one `serve` and ONE `worker` process
 * (WORKER_CONCURRENCY 64), running a documents-only spec with given key facts sized to
 * BENCH_CALLS documents tasks, with the per-item filters, the corpus gate and near-duplicate
 * detection on (the LLM audit stays off: it would add calls the loop does not make).
 *
 * Reports tasks/s of both and their ratio, and CPU seconds per 1,000 tasks of every process
 * (the loop's own process; the farm's worker, serve, redis-server and the simulator), read from
 * /proc. Saves bench/results/e2e.json.
 *
 *   npm run bench -- e2e                         BENCH_CALLS=5000 npm run bench -- e2e
 *   BENCH_WORKER_PROF_DIR=/tmp/prof npm run bench -- e2e   (the worker writes a --cpu-prof file there; its summary, see lib/profile-summary.ts, is saved with the figures)
 *   BENCH_WORKER_NODE_ARGS=--trace-gc BENCH_WORKER_LOG=/tmp/worker.log …   (more Node flags; its output kept)
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { GoogleGenAI } from '@google/genai';
import { SIMULATOR_API_KEY } from '../core/gemini/create-gemini-client.js';
import { PromptLibrary } from '../core/prompts/prompt-library.js';
import { renderTemplate } from '../core/prompts/render-template.js';
import { createRedis, deleteKeys } from '../core/redis.js';
import type { RunStatus } from '../core/runs/run-status.js';
import { resolveStageSettings } from '../core/spec/resolve-stage-settings.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { ROOT, spawnCli, stopChild, usage } from './lib/procs.js';
import { summarizeProfile, type ProfileSummary } from './lib/profile-summary.js';
import type { ChildProcess } from 'node:child_process';

const CALLS = Number(process.env.BENCH_CALLS ?? 20_000);
const CONCURRENCY = 64;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench-e2e-${process.pid}`;
const PROF_DIR = process.env.BENCH_WORKER_PROF_DIR;

const FACTS = Array.from({ length: 10 }, (_, i) => `Aster, the assistant, keeps promise number ${i + 1}: it says plainly what it does not know about topic ${i + 1}.`);
const TYPES_PER_FACT = 5;
const IDEAS_PER_TYPE = 20;
const IDEAS = FACTS.length * TYPES_PER_FACT * IDEAS_PER_TYPE;

const SPEC: RunSpec = {
  name: `e2e-${CALLS}`,
  universe: FACTS.map((f) => `- ${f}`).join('\n'),
  keyFacts: FACTS,
  documents: { docTypesPerFact: TYPES_PER_FACT, ideasPerType: IDEAS_PER_TYPE, docsPerIdea: Math.max(1, Math.round(CALLS / IDEAS)) },
  // Everything but the LLM audit (which makes calls of its own), explicitly.
  filters: { corpus: { enabled: true }, dedup: { enabled: true }, audit: { enabled: false } },
  // The engine against a loop that stores nothing: the response cache (issue 10) is measured on
  // its own, BENCH_CACHE=1 (every call a miss, so its whole cost is here).
  cache: process.env.BENCH_CACHE === '1',
};

type Proc = 'client' | 'worker' | 'serve' | 'redis' | 'sim';

/** (a) The loop: the documents stage's prompt and config, nothing else. */
async function runLoop(simUrl: string, simPid: number) {
  // The client as a user would make it: no timeout (its timer would outlive every answer, see
  // workers/call-model.ts), no retry wrapper.
  const gemini = new GoogleGenAI({ apiKey: SIMULATOR_API_KEY, httpOptions: { baseUrl: simUrl } });
  const template = new PromptLibrary().get('documents');
  const settings = resolveStageSettings(SPEC, 'documents');
  // A document idea and type of the size the simulator brainstorms; the farm's tasks carry its own.
  const limit = pLimit(CONCURRENCY);
  const cpu0 = process.cpuUsage();
  const sim0 = usage(simPid).cpuS;
  const start = performance.now();
  let chars = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      limit(async () => {
        const values = {
          universe: SPEC.universe,
          fact: FACTS[i % FACTS.length],
          docType: 'Internal engineering wiki page',
          idea: `A page of team norms, number ${i}, in which the team describes how the assistant answers when it lacks the facts, with two worked examples from support tickets.`,
          feedback: '',
        };
        try {
          const response = await gemini.models.generateContent({
            model: settings.model,
            contents: [{ role: 'user', parts: [{ text: renderTemplate(template.user, values) }] }],
            config: { systemInstruction: renderTemplate(template.system ?? '', values), temperature: settings.temperature, maxOutputTokens: settings.maxOutputTokens },
          });
          chars += response.text?.length ?? 0;
        } catch {
          failed++;
        }
      }),
    ),
  );
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    tasks: CALLS,
    failed,
    seconds,
    averageChars: Math.round(chars / CALLS),
    cpuS: { client: (cpu.user + cpu.system) / 1e6, sim: usage(simPid).cpuS - sim0 },
  };
}

/** (b) The farm: one serve, one worker, the run submitted through the API and followed to the end. */
async function runFarm(simUrl: string, simPid: number, redisPid: number, dataDir: string, children: ChildProcess[]) {
  const env = { REDIS_URL, SDF_PREFIX: PREFIX, DATA_DIR: dataDir, GEMINI_BASE_URL: simUrl, GEMINI_API_KEY: '', PORT: '0', WORKER_METRICS_PORT: '0', WORKER_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'info' };
  const serve = await spawnCli(['serve'], env, /api listening on (http:\/\/[\d.]+:\d+)/);
  children.push(serve.child);
  const nodeArgs = [...(PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []), ...(process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [])];
  const logFile = process.env.BENCH_WORKER_LOG;
  const worker = await spawnCli(['worker'], env, /worker metrics listening on (http:\/\/[\d.]+:\d+)/, { nodeArgs, ...(logFile ? { logFile } : {}) });
  const workerMetrics = worker.match[1]!.replace(/\/$/, '');
  children.push(worker.child);
  const api = serve.match[1]!;
  const pids: Record<Exclude<Proc, 'client'>, number> = { worker: worker.child.pid!, serve: serve.child.pid!, redis: redisPid, sim: simPid };
  const cpuNow = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, usage(pid).cpuS])) as Record<keyof typeof pids, number>;

  const before = cpuNow();
  const start = performance.now();
  const res = await fetch(`${api}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SPEC) });
  if (!res.ok) throw new Error(`submission refused: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  let status: RunStatus;
  // The worker's memory while it works: RSS from /proc, V8 heap and external memory from its metrics.
  const workerMemory = { rssMb: 0, heapUsedMb: 0, externalMb: 0 };
  const snapshotsAt = (process.env.BENCH_WORKER_SNAPSHOTS ?? '').split(',').filter(Boolean).map(Number);
  for (let polls = 1; ; polls++) {
    status = (await (await fetch(`${api}/v1/runs/${id}`)).json()) as RunStatus;
    workerMemory.rssMb = Math.max(workerMemory.rssMb, Math.round(usage(pids.worker).rssMb));
    if (polls % 4 === 0) {
      const text = await fetch(`${workerMetrics}/metrics`).then((r) => r.text()).catch(() => '');
      const gauge = (name: string) => Math.round(Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)`, 'm').exec(text)?.[1] ?? 0) / 2 ** 20);
      workerMemory.heapUsedMb = Math.max(workerMemory.heapUsedMb, gauge('sdf_nodejs_heap_size_used_bytes'));
      workerMemory.externalMb = Math.max(workerMemory.externalMb, gauge('sdf_nodejs_external_memory_bytes'));
    }
    if (['completed', 'cancelled', 'failed'].includes(status.state)) break;
    // With BENCH_WORKER_NODE_ARGS='--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=…': snapshots at these counts.
    const done = status.stages.documents?.done ?? 0;
    while (snapshotsAt.length && done >= snapshotsAt[0]!) {
      snapshotsAt.shift();
      worker.child.kill('SIGUSR2');
    }
    if (polls % 40 === 0) console.log(`farm: ${((performance.now() - start) / 1000).toFixed(0)} s, ${status.stages.documents?.done ?? 0} documents done, worker ${JSON.stringify(workerMemory)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const seconds = (performance.now() - start) / 1000;
  const after = cpuNow();
  const peakRssMb = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(usage(pid).peakRssMb)]));
  let workerProfile: ProfileSummary | undefined;
  if (PROF_DIR) {
    await stopChild(worker.child, true);
    // The main thread's profile (…<pid>.0.…, a worker thread's would be .1.), else the newest in the folder.
    const profiles = readdirSync(PROF_DIR).filter((f) => f.endsWith('.cpuprofile'));
    const file = profiles.filter((f) => f.includes(`.${pids.worker}.0.`)).pop() ?? profiles.filter((f) => f.includes('.0.')).sort().pop();
    if (file) workerProfile = summarizeProfile(join(PROF_DIR, file));
  }
  const docs = status.stages.documents;
  return {
    state: status.state,
    tasks: docs?.done ?? 0,
    calls: status.calls,
    accepted: docs?.accepted ?? 0,
    rejected: docs?.rejected ?? 0,
    failed: docs?.failed ?? 0,
    seconds,
    cpuS: Object.fromEntries(Object.keys(pids).map((k) => [k, after[k as keyof typeof pids] - before[k as keyof typeof pids]])) as Record<keyof typeof pids, number>,
    peakRssMb,
    workerMemory,
    ...(workerProfile ? { workerProfile } : {}),
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-bench-e2e-'));
  const redis = createRedis(REDIS_URL);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const children: ChildProcess[] = [];
  try {
    // Every idea suitable, so the farm makes exactly as many documents tasks as the loop makes calls.
    const sim = await spawnCli(['sim', '--port', '0', '--seed', '3', '--unsuitable-rate', '0'], {}, /listening on (http:\/\/[\d.:]+)/);
    children.push(sim.child);
    const simUrl = sim.match[1]!;
    const simPid = sim.child.pid!;

    console.log(`loop: ${CALLS} calls at concurrency ${CONCURRENCY}`);
    const loop = await runLoop(simUrl, simPid);
    console.log(`loop: ${(CALLS / loop.seconds).toFixed(0)} tasks/s`);
    console.log(`farm: ${SPEC.documents!.docsPerIdea * IDEAS} documents tasks, one worker at concurrency ${CONCURRENCY}`);
    const farm = await runFarm(simUrl, simPid, redisPid, dataDir, children);

    const perThousand = (cpuS: number, tasks: number) => +((cpuS * 1000) / Math.max(1, tasks)).toFixed(3);
    const loopRate = loop.tasks / loop.seconds;
    const farmRate = farm.tasks / farm.seconds;
    const farmCpuTotal = Object.values(farm.cpuS).reduce((a, b) => a + b, 0);
    const figures = {
      calls: CALLS,
      concurrency: CONCURRENCY,
      loop: {
        tasks: loop.tasks,
        failed: loop.failed,
        seconds: +loop.seconds.toFixed(2),
        tasksPerSecond: Math.round(loopRate),
        averageChars: loop.averageChars,
        cpuSecondsPer1000Tasks: { client: perThousand(loop.cpuS.client, loop.tasks), sim: perThousand(loop.cpuS.sim, loop.tasks) },
      },
      farm: {
        state: farm.state,
        tasks: farm.tasks,
        calls: farm.calls,
        accepted: farm.accepted,
        rejected: farm.rejected,
        failed: farm.failed,
        seconds: +farm.seconds.toFixed(2),
        tasksPerSecond: Math.round(farmRate),
        cpuSecondsPer1000Tasks: {
          ...Object.fromEntries(Object.entries(farm.cpuS).map(([k, v]) => [k, perThousand(v, farm.tasks)])),
          total: perThousand(farmCpuTotal, farm.tasks),
        },
        peakRssMb: farm.peakRssMb,
        workerMemorySampledPeakMb: farm.workerMemory,
      },
      farmShareOfLoop: +(farmRate / loopRate).toFixed(3),
      machine: { cores: cpus().length, node: process.version },
      at: new Date().toISOString(),
    };
    const row = (name: string, rate: number | string, cpu: Record<string, number>) =>
      console.log(`${name.padEnd(6)} ${String(rate).padStart(8)}  ${['client', 'worker', 'serve', 'redis', 'sim', 'total'].map((k) => (cpu[k] === undefined ? '-' : cpu[k]!.toFixed(3)).padStart(8)).join(' ')}`);
    console.log(`\n${''.padEnd(6)} ${'tasks/s'.padStart(8)}  ${['client', 'worker', 'serve', 'redis', 'sim', 'total'].map((k) => k.padStart(8)).join(' ')}   (CPU s per 1,000 tasks)`);
    row('loop', figures.loop.tasksPerSecond, { ...figures.loop.cpuSecondsPer1000Tasks, total: figures.loop.cpuSecondsPer1000Tasks.client + figures.loop.cpuSecondsPer1000Tasks.sim });
    row('farm', figures.farm.tasksPerSecond, figures.farm.cpuSecondsPer1000Tasks);
    console.log(`farm / loop: ${(figures.farmShareOfLoop * 100).toFixed(1)}%; farm peak RSS MB ${JSON.stringify(farm.peakRssMb)}; worker sampled peaks MB ${JSON.stringify(farm.workerMemory)}`);
    // Only a full run's figures are the committed ones; a quick try's go to the temp folder.
    const cached = process.env.BENCH_CACHE === '1';
    const name = `e2e${CALLS === 20_000 ? '' : `-${CALLS}`}${cached ? '-cache' : ''}.json`;
    const out = CALLS === 20_000 ? join(ROOT, 'bench/results') : tmpdir();
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, name), JSON.stringify(figures, null, 2) + '\n');
    console.log(`figures saved in ${join(out, name)}`);
    if (farm.state !== 'completed' || farm.tasks !== SPEC.documents!.docsPerIdea * IDEAS || loop.failed > 0) process.exitCode = 1;
  } finally {
    for (const child of children) await stopChild(child);
    await deleteKeys(redis, PREFIX);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
