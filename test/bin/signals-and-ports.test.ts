import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../core/config.js';
import { redisAnswers } from '../../core/redis.js';
import { REPO_ROOT } from '../helpers/farm.js';
import { uniquePrefix } from '../helpers/redis.js';

/** Defect 10: `worker --port`/PORT, and a SIGTERM while Redis does not answer. Real child processes throughout. */

const REDIS_TIMEOUT_MS = 1500;
/** Far below the worker's 630 s grace and the serve's 30 s one, far above the Redis deadline. */
const EXIT_WITHIN_MS = 12_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A private redis-server this test may stop or kill; removed at teardown. */
async function privateRedis(t: Test): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  t.teardown(() => void child.kill('SIGKILL'));
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(url, 200)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers(url))) throw new Error(`redis-server on ${port} did not start`);
  return { url, child };
}

interface FarmChild {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the first output match of `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Exit code and how long after `since` it came; null code if it had to be killed after `limitMs`. */
  exited(since: number, limitMs: number): Promise<{ code: number | null; ms: number }>;
}

function sdfFarm(t: Test, args: string[], env: NodeJS.ProcessEnv): FarmChild {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin/sdf-farm.ts'), ...args], {
    env: {
      ...process.env,
      GEMINI_API_KEY: '',
      // Never called: these tests queue no tasks.
      GEMINI_BASE_URL: 'http://127.0.0.1:9',
      SDF_PREFIX: uniquePrefix('sig'),
      LOG_LEVEL: 'info',
      PORT: '',
      WORKER_METRICS_PORT: '',
      SDF_SHUTDOWN_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => void child.kill('SIGKILL'));
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(output);
          if (m) {
            listeners.delete(check);
            clearTimeout(timer);
            resolve(m);
          }
        };
        const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output: ${output.slice(-1500)}`)), timeoutMs);
        void exit.then((code) => {
          clearTimeout(timer);
          if (!pattern.exec(output)) reject(new Error(`exited ${code} before ${pattern}; output: ${output.slice(-1500)}`));
        });
        listeners.add(check);
        check();
      });
    },
    async exited(since, limitMs) {
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(0, since + limitMs - Date.now()));
      const code = await exit;
      clearTimeout(timer);
      return { code: child.signalCode === 'SIGKILL' ? null : code, ms: Date.now() - since };
    },
  };
}

async function healthz(port: number): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
}

t.test('worker --port P serves /metrics, /healthz and /readyz on P', async (t) => {
  const { url } = await privateRedis(t);
  const port = await freePort();
  const worker = sdfFarm(t, ['worker', '--port', String(port)], { REDIS_URL: url });
  await worker.waitFor(/worker metrics listening on http:\/\/[\d.]+:(\d+)/);
  t.equal(await healthz(port), 200, `/healthz answers on --port ${port}`);
  worker.child.kill('SIGTERM');
  t.equal((await worker.exited(Date.now(), EXIT_WITHIN_MS)).code, 0, 'and a SIGTERM with Redis up drains and exits 0');
});

t.test('worker takes PORT when WORKER_METRICS_PORT is unset', async (t) => {
  const { url } = await privateRedis(t);
  const port = await freePort();
  const worker = sdfFarm(t, ['worker'], { REDIS_URL: url, PORT: String(port) });
  const [, listening] = await worker.waitFor(/worker metrics listening on http:\/\/[\d.]+:(\d+)/);
  t.equal(Number(listening), port);
  t.equal(await healthz(port), 200);
});

t.test('worker: --port and --metrics-port that disagree are refused, naming both', async (t) => {
  const worker = sdfFarm(t, ['worker', '--port', '9001', '--metrics-port', '9002'], { REDIS_URL: 'redis://127.0.0.1:9' });
  const { code } = await worker.exited(Date.now(), 20_000);
  t.not(code, 0);
  t.match(worker.output(), /--port 9001 and --metrics-port 9002/);
});

t.test('the worker metrics port: flag, then WORKER_METRICS_PORT, then PORT, then 9464', async (t) => {
  t.equal(loadConfig({}).workerMetricsPort, 9464);
  t.equal(loadConfig({ PORT: '8123' }).workerMetricsPort, 8123);
  t.equal(loadConfig({ PORT: '8123', WORKER_METRICS_PORT: '9123' }).workerMetricsPort, 9123);
  t.equal(loadConfig({}).shutdownRedisTimeoutMs, 5000);
  t.throws(() => loadConfig({ SDF_SHUTDOWN_REDIS_TIMEOUT_MS: 'soon' }), /SDF_SHUTDOWN_REDIS_TIMEOUT_MS/);
});

/** Exit, timing and message of a process that got SIGTERM after its Redis became unreachable. */
async function assertGaveUpOnRedis(t: Test, proc: FarmChild, since: number): Promise<void> {
  const { code, ms } = await proc.exited(since, EXIT_WITHIN_MS);
  t.not(code, null, `exits by itself within ${EXIT_WITHIN_MS} ms (took ${ms} ms)`);
  t.equal(code, 1, 'non-zero: the drain did not complete');
  t.ok(ms >= REDIS_TIMEOUT_MS - 200, `it gave Redis its ${REDIS_TIMEOUT_MS} ms first (${ms} ms)`);
  t.match(proc.output(), /Redis at redis:\/\/127\.0\.0\.1:\d+\/? has not answered for \d+ ms \(SDF_SHUTDOWN_REDIS_TIMEOUT_MS=1500\)/, 'and says why');
}

/** A Gemini that takes requests and never answers: a worker calling it holds its task until shut down. */
async function silentGemini(t: Test): Promise<{ url: string; calls: () => number }> {
  let calls = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createHttpServer(() => void calls++);
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls: () => calls };
}

/**
 * A worker holding a task (its model call outstanding), then Redis made unreachable with `how`,
 * then SIGTERM. The drain cannot finish (the result could not be published, the job not acked),
 * so the worker must give up on Redis after its deadline instead of waiting out its 630 s grace.
 */
async function workerSigtermWithoutRedis(t: Test, how: 'SIGSTOP' | 'SIGKILL'): Promise<void> {
  const { url, child: redis } = await privateRedis(t);
  const gemini = await silentGemini(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-sig-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = { REDIS_URL: url, PORT: '0', WORKER_METRICS_PORT: '0', DATA_DIR: dataDir, GEMINI_BASE_URL: gemini.url, SDF_PREFIX: uniquePrefix('sig') };
  const serve = sdfFarm(t, ['serve'], env);
  const [, apiUrl] = await serve.waitFor(/api listening on (http:\/\/[\d.:]+)/);
  const worker = sdfFarm(t, ['worker'], env);
  await worker.waitFor(/worker metrics listening/);
  const submitted = await fetch(`${apiUrl}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SPEC) });
  t.equal(submitted.status, 202, 'run submitted');
  for (let i = 0; i < 200 && gemini.calls() === 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(gemini.calls() > 0, 'the worker is mid-task, waiting on its model call');
  serve.child.kill('SIGKILL');
  redis.kill(how);
  const since = Date.now();
  worker.child.kill('SIGTERM');
  await assertGaveUpOnRedis(t, worker, since);
}

const SPEC = {
  name: 'signals',
  universe: 'Aster is an AI assistant that says plainly when it does not know something.',
  keyFacts: ['Aster says so plainly when it does not know something.'],
  documents: { model: 'gemini-2.5-flash', docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1, revise: false },
};

t.test('worker: SIGTERM mid-task with Redis stopped (SIGSTOP: connections hang) exits 1 after the Redis deadline', (t) => workerSigtermWithoutRedis(t, 'SIGSTOP'));
t.test('worker: SIGTERM mid-task with Redis gone (connections refused) exits 1 after the Redis deadline', (t) => workerSigtermWithoutRedis(t, 'SIGKILL'));

t.test('serve: SIGTERM with Redis stopped exits 1 after the Redis deadline', async (t) => {
  const { url, child: redis } = await privateRedis(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-sig-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const serve = sdfFarm(t, ['serve'], { REDIS_URL: url, PORT: '0', DATA_DIR: dataDir });
  await serve.waitFor(/api listening/);
  // Let it settle into its Redis calls (lease renewals, the collector's blocking read).
  await new Promise((r) => setTimeout(r, 500));
  redis.kill('SIGSTOP');
  const since = Date.now();
  serve.child.kill('SIGTERM');
  await assertGaveUpOnRedis(t, serve, since);
});

t.test('serve: SIGTERM with Redis up drains and exits 0', async (t) => {
  const { url } = await privateRedis(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-sig-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const serve = sdfFarm(t, ['serve'], { REDIS_URL: url, PORT: '0', DATA_DIR: dataDir });
  await serve.waitFor(/api listening/);
  const since = Date.now();
  serve.child.kill('SIGTERM');
  const { code } = await serve.exited(since, EXIT_WITHIN_MS);
  t.equal(code, 0);
  t.notMatch(serve.output(), /has not answered/);
});
