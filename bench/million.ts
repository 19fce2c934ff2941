/**
 * A whole run at the size the farm exists for: BENCH_DOCS documents (default 1,000,000) from 10
 * given key facts × 5 doc types × 20 ideas × BENCH_DOCS/1000 documents each, on the simulator at
 * 0 ms, with one `serve` and one `worker` process (WORKER_CONCURRENCY 64), every filter on.
 * Measures the time to accept the submission, tasks/s in each tenth of the run, Redis used_memory
 * (peak while running, and after completion), peak RSS and CPU seconds of every process, and
 * checks the result: every documents task committed once, the export holds every accepted one.
 * Saves bench/results/million.json (or large-run-<docs>.json for other sizes).
 *
 *   npm run bench -- million              BENCH_DOCS=100000 npm run bench -- million
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis, deleteKeys } from '../core/redis.js';
import type { RunStatus } from '../core/runs/run-status.js';
import { ROOT, spawnCli, usage } from './lib/procs.js';

const DOCS = Number(process.env.BENCH_DOCS ?? 1_000_000);
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '64';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `bench-million-${process.pid}`;

const FACTS = Array.from({ length: 10 }, (_, i) => `Aster, the assistant, keeps promise number ${i + 1}: it says plainly what it does not know about topic ${i + 1}.`);

async function main(): Promise<void> {
  const docsPerIdea = Math.max(1, Math.round(DOCS / 1000));
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-bench-million-'));
  const redis = createRedis(REDIS_URL);
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  const children: ChildProcess[] = [];
  try {
    const sim = await spawnCli(['sim', '--port', '0', '--seed', '3'], {}, /listening on (http:\/\/[\d.:]+)/);
    children.push(sim.child);
    const env = { REDIS_URL, SDF_PREFIX: PREFIX, DATA_DIR: dataDir, GEMINI_BASE_URL: sim.match[1]!, GEMINI_API_KEY: '', PORT: '0', WORKER_METRICS_PORT: '0', WORKER_CONCURRENCY: CONCURRENCY, LOG_LEVEL: 'info' };
    const serve = await spawnCli(['serve'], env, /api listening on (http:\/\/[\d.]+:\d+)/);
    children.push(serve.child);
    const worker = await spawnCli(['worker'], env, /worker metrics listening on/);
    children.push(worker.child);
    const api = serve.match[1]!;
    const before = { serve: usage(serve.child.pid!), worker: usage(worker.child.pid!), sim: usage(sim.child.pid!), redis: usage(redisPid) };
    const memoryBefore = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);

    // The run engine's memory and rate without the response cache, whose entries (bounded by
    // SDF_RESPONSE_CACHE_MAX_BYTES, 256 MiB) would be most of Redis here; see README, Cost.
    const spec = { name: `million-${DOCS}`, universe: FACTS.map((f) => `- ${f}`).join('\n'), keyFacts: FACTS, documents: { docTypesPerFact: 5, ideasPerType: 20, docsPerIdea }, cache: false };
    const submitStart = performance.now();
    const res = await fetch(`${api}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    const acceptMs = performance.now() - submitStart;
    const { id } = (await res.json()) as { id: string };
    const planned = 10 * 5 * 20 * docsPerIdea;
    console.log(`run ${id}: ${planned} documents planned; accepted in ${acceptMs.toFixed(1)} ms`);

    const started = Date.now();
    const samples: { t: number; done: number }[] = [];
    let peakMemory = memoryBefore;
    let status: RunStatus;
    for (;;) {
      status = (await (await fetch(`${api}/v1/runs/${id}`)).json()) as RunStatus;
      const done = status.stages.documents?.done ?? 0;
      samples.push({ t: (Date.now() - started) / 1000, done });
      peakMemory = Math.max(peakMemory, Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]));
      if (samples.length % 20 === 0) console.log(`${samples.at(-1)!.t.toFixed(0)} s: ${done} documents done, Redis ${(peakMemory / 2 ** 20).toFixed(0)} MB peak`);
      if (['completed', 'cancelled', 'failed'].includes(status.state)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (Date.now() - started) / 1000;
    const after = { serve: usage(serve.child.pid!), worker: usage(worker.child.pid!), sim: usage(sim.child.pid!), redis: usage(redisPid) };
    const memoryAfter = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    // Ideas the model marks unsuitable are dropped, so the run makes fewer documents than the upper bound.
    const total = status.stages.documents?.done ?? 0;
    const tenths = Array.from({ length: 10 }, (_, i) => {
      const from = (total * i) / 10;
      const to = (total * (i + 1)) / 10;
      // Sampled every 0.5 s: each tenth is measured from the last sample before it to the first after it.
      const a = samples.filter((s) => s.done <= from).at(-1) ?? samples[0]!;
      const b = samples.find((s) => s.done >= to) ?? samples.at(-1)!;
      return b.t > a.t ? Math.round((b.done - a.done) / (b.t - a.t)) : null;
    });

    // Correctness: the export holds every accepted document once.
    // Streamed line by line: a million documents' export is larger than the longest string V8 makes.
    const ids: string[] = [];
    const body = (await fetch(`${api}/v1/runs/${id}/export?kind=documents`)).body;
    if (!body) throw new Error('the export has no body');
    for await (const line of createInterface({ input: Readable.fromWeb(body as import('node:stream/web').ReadableStream) })) {
      if (line) ids.push((JSON.parse(line) as { id: string }).id);
    }
    const docs = status.stages.documents!;
    const checks = {
      completed: status.state === 'completed',
      everyTaskCommittedOnce: docs.done === (status.stages['doc-ideas']?.items ?? 0) * docsPerIdea && docs.accepted + docs.rejected + docs.failed === docs.done,
      exportHoldsEveryAccepted: ids.length === docs.accepted,
      noIdTwice: new Set(ids).size === ids.length,
    };
    const cpu = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, +(v.cpuS - before[k as keyof typeof before].cpuS).toFixed(1)]));
    const figures = {
      documentsUpperBound: planned,
      documentTasks: total,
      state: status.state,
      seconds: +seconds.toFixed(1),
      acceptSubmissionMs: +acceptMs.toFixed(1),
      documentTasksPerSecond: Math.round(total / seconds),
      tasksPerSecondByTenth: tenths,
      lastTenthShareOfFirst: tenths[0] && tenths[9] ? +(tenths[9] / tenths[0]).toFixed(2) : null,
      redisUsedMemoryMb: { before: +(memoryBefore / 2 ** 20).toFixed(1), peak: +(peakMemory / 2 ** 20).toFixed(1), afterCompletion: +(memoryAfter / 2 ** 20).toFixed(1) },
      peakRssMb: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round(v.peakRssMb)])),
      cpuSeconds: cpu,
      cpuMsPerTask: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, +((v * 1000) / (status.calls || 1)).toFixed(3)])),
      calls: status.calls,
      accepted: docs.accepted,
      rejected: docs.rejected,
      rejectedByReason: docs.rejectedByReason,
      checks,
      machine: { cores: (await import('node:os')).cpus().length, node: process.version },
      at: new Date().toISOString(),
    };
    console.log(JSON.stringify(figures, null, 2));
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench/results', DOCS === 1_000_000 ? 'million.json' : `large-run-${DOCS}.json`), JSON.stringify(figures, null, 2) + '\n');
    if (!Object.values(checks).every(Boolean)) process.exitCode = 1;
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await deleteKeys(redis, PREFIX);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
