import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadConfig, type FarmConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import type { RunStatus } from '../../core/runs/run-status.js';
import { ENDED_STATES } from '../../core/runs/run-state.js';
import { startFarmServer, type FarmServer } from '../../producer/main.js';
import { startSim } from '../../sim/index.js';
import type { SimOptions } from '../../sim/index.js';
import { createGeminiClient } from '../../core/gemini/create-gemini-client.js';
import { startWorkerProcess, type WorkerProcess, type WorkerProcessOptions } from '../../workers/main.js';
import { createRedis, deleteKeys } from '../../core/redis.js';
import { TEST_REDIS_URL, uniquePrefix } from './redis.js';

export const REPO_ROOT = new URL('../../', import.meta.url).pathname;

export interface TestFarm {
  config: FarmConfig;
  /** The in-process API + producer (absent with `server: 'child'`). */
  server: FarmServer | undefined;
  /** Where the current API listens (changes when a child server is restarted). */
  apiUrl: string;
  /** Starts `sdf-farm serve` as a child process and points the helpers at it. */
  spawnServe(extraEnv?: NodeJS.ProcessEnv): Promise<ChildProcess>;
  simUrl: string;
  sim: Awaited<ReturnType<typeof startSim>>;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  startWorker(overrides?: Partial<FarmConfig>, options?: Pick<WorkerProcessOptions, 'wrapPublish'>): Promise<WorkerProcess>;
  /** Starts `sdf-farm worker` as a child process; resolves once it has started and serves /metrics (at `metricsUrl`). */
  spawnWorker(extraEnv?: NodeJS.ProcessEnv): Promise<ChildProcess & { metricsUrl: string }>;
  submit(spec: unknown, headers?: Record<string, string>): Promise<string>;
  status(runId: string): Promise<RunStatus>;
  waitFor(runId: string, states?: string[], timeoutMs?: number): Promise<RunStatus>;
  exportLines(runId: string, kind: string, format?: string): Promise<Record<string, unknown>[]>;
}

/**
 * A farm for one test: the simulator, API + producer, and workers in-process or as child
 * processes, all on a unique Redis prefix and data dir that are removed at teardown.
 */
export async function startTestFarm(
  t: Test,
  options: { sim?: Partial<SimOptions>; config?: Partial<FarmConfig>; env?: NodeJS.ProcessEnv; server?: 'in-process' | 'child' } = {},
): Promise<TestFarm> {
  const prefix = uniquePrefix('farm');
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-data-'));
  const sim = await startSim({ port: 0, seed: 7, ...options.sim });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    REDIS_URL: TEST_REDIS_URL,
    SDF_PREFIX: prefix,
    DATA_DIR: dataDir,
    GEMINI_BASE_URL: sim.url,
    GEMINI_API_KEY: '',
    WORKER_METRICS_PORT: '0',
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    SDF_TASK_ATTEMPTS: '3',
    // Tests poll status every few milliseconds; the request rate limit has its own test (test/api/operator-limits.test.ts).
    SDF_API_RATE_LIMIT: '0',
    ...options.env,
  };
  const config: FarmConfig = { ...loadConfig(env), ...options.config };
  const logger = createLogger(env.LOG_LEVEL);
  const server = options.server === 'child' ? undefined : await startFarmServer({ config, logger, port: 0 });
  const workers: WorkerProcess[] = [];
  const children: ChildProcess[] = [];

  t.teardown(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await Promise.allSettled(workers.map((w) => w.close(2000)));
    await server?.close();
    await sim.close();
    const redis = createRedis(TEST_REDIS_URL);
    await deleteKeys(redis, prefix);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const farm: TestFarm = {
    config,
    server,
    apiUrl: server?.api.url ?? '',
    async spawnServe(extraEnv = {}) {
      const { child, url } = await spawnCli('serve', { ...env, ...extraEnv }, /api listening on (http:\/\/[\d.]+:\d+)/);
      children.push(child);
      farm.apiUrl = url;
      return child;
    },
    sim,
    simUrl: sim.url,
    dataDir,
    env,
    async startWorker(overrides = {}, extra = {}) {
      const gemini = createGeminiClient({ baseUrl: sim.url, timeoutMs: overrides.requestTimeoutMs ?? 30_000 });
      const worker = await startWorkerProcess({ config: { ...config, ...overrides }, gemini, logger, metricsServer: false, ...extra });
      workers.push(worker);
      return worker;
    },
    async spawnWorker(extraEnv = {}) {
      const { child, url } = await spawnCli('worker', { ...env, ...extraEnv }, /worker metrics listening on (http:\/\/[\d.]+:\d+)/);
      children.push(child);
      return Object.assign(child, { metricsUrl: url });
    },
    async submit(spec, headers = {}) {
      const res = await fetch(`${farm.apiUrl}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(spec) });
      const body = (await res.json()) as { id: string };
      if (res.status !== 202) throw new Error(`submit: ${res.status} ${JSON.stringify(body)}`);
      return body.id;
    },
    async status(runId) {
      const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}`);
      return (await res.json()) as RunStatus;
    },
    async waitFor(runId, states = [...ENDED_STATES], timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await farm.status(runId);
        if (states.includes(status.state)) return status;
        if (Date.now() > deadline) throw new Error(`run ${runId} still ${status.state} after ${timeoutMs} ms: ${JSON.stringify(status.stages)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async exportLines(runId, kind, format = 'raw') {
      const res = await fetch(`${farm.apiUrl}/v1/runs/${runId}/export?kind=${kind}&format=${format}`);
      const text = await res.text();
      if (!res.ok) throw new Error(`export ${kind}/${format}: ${res.status} ${text}`);
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
  return farm;
}

/**
 * Spawns an sdf-farm command and resolves once its log says it is up (the first group of
 * `readyLine` is the address it gives). Waiting matters: a signal sent before the process has
 * installed its handlers would kill it instead of draining it.
 */
async function spawnCli(command: string, env: NodeJS.ProcessEnv, readyLine: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin/sdf-farm.ts'), command], {
    env: { ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const match = readyLine.exec(buffered);
      if (match) {
        child.stdout?.off('data', onData);
        // TEST_CHILD_LOG=1 shows the child's log, for finding out why a test hangs.
        if (process.env.TEST_CHILD_LOG) child.stdout?.pipe(process.stderr);
        else child.stdout?.resume();
        child.off('exit', onExit);
        resolve(match[1]!);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`sdf-farm ${command} exited with ${code} before it was up: ${stderr}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
  return { child, url };
}
