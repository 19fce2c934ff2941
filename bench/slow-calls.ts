/**
 * Slow calls: one worker process holding thousands of model calls that each take 10 s (Gemini 2.5
 * Pro answers in tens of seconds), which is what WORKER_CONCURRENCY as a per-process total is for.
 * The simulator answers every call after BENCH_LATENCY_MS (default 10,000); one `serve`, one
 * `worker` with WORKER_CONCURRENCY = BENCH_CONCURRENCY (default 4,000); a documents-only run with
 * given key facts, 10 facts × 5 doc types × 20 ideas × BENCH_DOCS_PER_IDEA (default 28) documents,
 * about 80 s of documents calls after 20 s of doc-types and doc-ideas.
 *
 * Why 4,000 slots for 2,000 calls: with every call taking exactly 10 s, the calls fetched together
 * end together, and the worker digests such a wave (about 2 ms of CPU per call: parse, filters,
 * publish, ack) on one thread before their slots are free again; a slot is held until its task
 * is acked, so for a few seconds in every ten most slots hold finished calls being processed, not
 * calls in flight (the timeline shows it: calls in flight fall while documents tasks wait).
 * Mean calls in flight ≈ slots × 10 s / (10 s + slots × 2 ms), so 2,200 slots hold ~1,800
 * and 4,000 hold ~2,200. Real latencies vary call to call, which spreads the waves out.
 *
 * Reports, over the steady part (the simulator holding ≥ 90% of BENCH_CONCURRENCY): peak and mean
 * calls in flight (counted by the simulator), calls/s, the worker's CPU (cores) and RSS. Target:
 * ≥ 2,000 in flight at < 1 core, ≥ 190 calls/s. Checks the run completes with every documents
 * task once. Saves bench/results/slow-calls.json.
 *
 *   npm run bench -- slow-calls        BENCH_CONCURRENCY=3000 npm run bench -- slow-calls
 *   BENCH_WORKER_NODE_ARGS=--cpu-prof npm run bench -- slow-calls   (profile of the worker in bench/results/)
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, deleteKeys } from '../core/redis.js';
import type { RunStatus } from '../core/runs/run-status.js';
import type { SimStats } from '../sim/index.js';
import { ROOT, spawnCli, usage } from './lib/procs.js';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4000);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 10_000);
const DOCS_PER_IDEA = Number(process.env.BENCH_DOCS_PER_IDEA ?? 28);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench-slow-${process.pid}`;
const SAMPLE_MS = 500;

const FACTS = Array.from({ length: 10 }, (_, i) => `Aster, the assistant, keeps promise number ${i + 1}: it says plainly what it does not know about topic ${i + 1}.`);

const requestsOf = (stats: SimStats) => Object.values(stats.requests).reduce((sum, byCode) => sum + Object.values(byCode).reduce((a, b) => a + b, 0), 0);

interface Sample {
  t: number;
  inFlight: number;
  requests: number;
  documentsDone: number;
  workerCpuS: number;
  workerRssMb: number;
  workerHeapMb: number;
  /** Documents tasks waiting in their queue: zero with calls missing means the supply ran out, not the worker. */
  waiting: number;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-bench-slow-'));
  const redis = createRedis(REDIS_URL);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const children: ChildProcess[] = [];
  try {
    const sim = await spawnCli(['sim', '--port', '0', '--seed', '3', '--latency-ms', String(LATENCY_MS)], {}, /listening on (http:\/\/[\d.:]+)/);
    children.push(sim.child);
    const simUrl = sim.match[1]!;
    const env = {
      REDIS_URL,
      SDF_PREFIX: PREFIX,
      DATA_DIR: dataDir,
      GEMINI_BASE_URL: simUrl,
      GEMINI_API_KEY: '',
      PORT: '0',
      WORKER_METRICS_PORT: '0',
      WORKER_CONCURRENCY: String(CONCURRENCY),
      // The run's window (its tasks in Redis at once) must not be what caps the calls in flight.
      // Expansion refills it to the window once fewer than half are in flight; with every call
      // taking the same 10 s, a whole concurrency's worth ends at once, so the waiting backlog at
      // the refill point (window/2 - concurrency) must cover one such wave: window ≥ 4 × concurrency.
      SDF_RUN_WINDOW: String(CONCURRENCY * 5),
      LOG_LEVEL: 'info',
    };
    const serve = await spawnCli(['serve'], env, /api listening on (http:\/\/[\d.]+:\d+)/);
    children.push(serve.child);
    const profile = process.env.BENCH_WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    if (profile.includes('--cpu-prof')) profile.push('--cpu-prof-dir', join(ROOT, 'bench/results'));
    const worker = await spawnCli(['worker'], env, /worker metrics listening on (http:\/\/[\d.:]+)/, { nodeArgs: profile });
    const workerMetrics = worker.match[1]!;
    children.push(worker.child);
    const api = serve.match[1]!;
    const pids = { worker: worker.child.pid!, serve: serve.child.pid!, sim: sim.child.pid!, redis: redisPid };
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, usage(pid).cpuS]));

    const spec = { name: 'slow-calls', universe: FACTS.map((f) => `- ${f}`).join('\n'), keyFacts: FACTS, documents: { docTypesPerFact: 5, ideasPerType: 20, docsPerIdea: DOCS_PER_IDEA, revise: false } };
    const res = await fetch(`${api}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    const { id } = (await res.json()) as { id: string };
    console.log(`run ${id}: up to ${10 * 5 * 20 * DOCS_PER_IDEA} documents; WORKER_CONCURRENCY ${CONCURRENCY}, simulator latency ${LATENCY_MS} ms`);

    const started = Date.now();
    const samples: Sample[] = [];
    let status: RunStatus;
    let heapMb = 0;
    for (;;) {
      const [s, stats] = await Promise.all([
        fetch(`${api}/v1/runs/${id}`).then((r) => r.json() as Promise<RunStatus>),
        fetch(`${simUrl}/sim/stats`).then((r) => r.json() as Promise<SimStats>),
      ]);
      status = s;
      const w = usage(pids.worker);
      // The worker's heap every 5 s only: rendering its /metrics costs it CPU.
      if (samples.length % 10 === 0) heapMb = Number(/^sdf_nodejs_heap_size_used_bytes(?:{[^}]*})? (\S+)/m.exec(await (await fetch(`${workerMetrics}/metrics`)).text())?.[1] ?? 0) / 2 ** 20;
      const waiting = await redis.llen(`${PREFIX}:documents:wait`);
      samples.push({ waiting, workerHeapMb: heapMb, t: (Date.now() - started) / 1000, inFlight: stats.inFlight, requests: requestsOf(stats), documentsDone: status.stages.documents?.done ?? 0, workerCpuS: w.cpuS, workerRssMb: w.rssMb });
      if (samples.length % 10 === 0) {
        const last = samples.at(-1)!;
        console.log(`${last.t.toFixed(0)} s: ${last.inFlight} calls in flight, ${last.documentsDone} documents done, worker RSS ${last.workerRssMb.toFixed(0)} MB (heap used ${last.workerHeapMb.toFixed(0)} MB)`);
      }
      if (['completed', 'cancelled', 'failed'].includes(status.state)) break;
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    const seconds = (Date.now() - started) / 1000;
    const finalStats = (await (await fetch(`${simUrl}/sim/stats`)).json()) as SimStats;
    const after = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, usage(pid)]));

    // The steady part: from the first sample with the simulator holding ≥ 90% of the concurrency
    // to the last (the ramp of doc-types and doc-ideas, and the run's tail, are left out).
    const full = CONCURRENCY * 0.9;
    const first = samples.findIndex((s) => s.inFlight >= full);
    const last = samples.length - 1 - [...samples].reverse().findIndex((s) => s.inFlight >= full);
    const steady = first >= 0 && last > first ? samples.slice(first, last + 1) : [];
    const a = steady[0];
    const b = steady.at(-1);
    const span = a && b ? b.t - a.t : 0;
    const steadyFigures = a && b && span > 0
      ? {
          seconds: +span.toFixed(1),
          meanInFlight: Math.round(steady.reduce((sum, s) => sum + s.inFlight, 0) / steady.length),
          minInFlight: Math.min(...steady.map((s) => s.inFlight)),
          /** Samples with fewer than 90% of the concurrency in flight while documents tasks were waiting: the worker's own shortfall. */
          shortWithWorkWaiting: steady.filter((s) => s.inFlight < full && s.waiting > 0).length,
          samples: steady.length,
          callsPerSecond: +((b.requests - a.requests) / span).toFixed(1),
          documentsPerSecond: +((b.documentsDone - a.documentsDone) / span).toFixed(1),
          workerCores: +((b.workerCpuS - a.workerCpuS) / span).toFixed(3),
          workerCpuMsPerCall: +(((b.workerCpuS - a.workerCpuS) * 1000) / Math.max(1, b.requests - a.requests)).toFixed(3),
          workerRssMbMax: Math.round(Math.max(...steady.map((s) => s.workerRssMb))),
          workerHeapUsedMbMax: Math.round(Math.max(...steady.map((s) => s.workerHeapMb))),
        }
      : null;

    const docs = status.stages.documents!;
    const checks = {
      completed: status.state === 'completed',
      everyTaskCommittedOnce: docs.done === (status.stages['doc-ideas']?.items ?? 0) * DOCS_PER_IDEA && docs.accepted + docs.rejected + docs.failed === docs.done,
    };
    const targets = steadyFigures
      ? {
          inFlightAtLeast2000: steadyFigures.meanInFlight >= 2000,
          underOneCore: steadyFigures.workerCores < 1,
          callsPerSecondAtLeast190: steadyFigures.callsPerSecond >= 190,
        }
      : null;
    const cpuSeconds = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v.cpuS - before[k]!).toFixed(1)]));
    const figures = {
      workerConcurrency: CONCURRENCY,
      simLatencyMs: LATENCY_MS,
      peakInFlight: finalStats.peakInFlight,
      steady: steadyFigures,
      targets,
      run: {
        state: status.state,
        seconds: +seconds.toFixed(1),
        calls: status.calls,
        documentTasks: docs.done,
        accepted: docs.accepted,
        rejected: docs.rejected,
        callsPerSecond: +(requestsOf(finalStats) / seconds).toFixed(1),
      },
      cpuSeconds,
      workerCpuMsPerCall: +((cpuSeconds.worker! * 1000) / Math.max(1, requestsOf(finalStats))).toFixed(3),
      peakRssMb: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round(v.peakRssMb)])),
      checks,
      /** [seconds, calls in flight, documents tasks waiting], every 2 s. */
      timeline: samples.filter((_, i) => i % Math.round(2000 / SAMPLE_MS) === 0).map((s) => [Math.round(s.t), s.inFlight, s.waiting]),
      machine: { cores: cpus().length, node: process.version },
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(figures, null, 2));
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results/slow-calls.json'), JSON.stringify(figures, null, 2) + '\n');
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    // A signal the processes drain on first, so a profiled worker exits normally and writes its profile.
    for (const child of children) child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, process.env.BENCH_WORKER_NODE_ARGS ? 3000 : 200));
    for (const child of children) child.kill('SIGKILL');
    await deleteKeys(redis, PREFIX);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
