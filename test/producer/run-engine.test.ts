import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker, type Job } from 'bullmq';
import t, { type Test } from 'tap';
import { createLogger } from '../../core/logger.js';
import { createFarmMetrics } from '../../core/metrics.js';
import { closeQueues, createStageQueues, type StageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { runKeys } from '../../core/keys.js';
import { publishResult } from '../../core/runs/run-results.js';
import { runFilePath } from '../../core/runs/run-files.js';
import { ZERO_USAGE, type TaskData, type TaskResult } from '../../core/task.js';
import { Producer, type ProducerOptions } from '../../producer/producer.js';
import { testRedis } from '../helpers/redis.js';

const SPEC = { universe: 'u', keyFacts: ['f0', 'f1', 'f2'], documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 2 } };

async function setup(t: Test) {
  const { redis, prefix } = await testRedis(t, 'engine');
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-engine-'));
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const producers: Producer[] = [];
  const metrics = createFarmMetrics({ defaultMetrics: false });
  const newProducer = (options: Partial<ProducerOptions> = {}) => {
    const producer = new Producer({ redis, connection: redis, queues, runs, prefix, dataDir, window: 100, logger: createLogger('silent'), tickMs: 50, lockTtlMs: 1000, metrics, ...options });
    producers.push(producer);
    return producer;
  };
  t.teardown(async () => {
    await Promise.all(producers.map((p) => p.close()));
    await closeQueues(Object.values(queues));
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { redis, prefix, dataDir, queues, runs, newProducer, metrics };
}

function result(task: TaskData, extra: Partial<TaskResult> = {}): TaskResult {
  return { runId: task.runId, stage: task.stage, index: task.index, id: `${task.stage}-${task.index}`, outcome: 'accepted', model: 'm', usage: { ...ZERO_USAGE, calls: 1, promptTokens: 10 }, ...extra };
}

/** What a worker would answer: 2 types per fact, 2 ideas per type, a document per documents task. */
function answer(task: TaskData): TaskResult {
  if (task.stage === 'doc-types') return result(task, { items: [0, 1].map((t) => ({ ...task.input, t, docType: `type${t}` })) });
  if (task.stage === 'doc-ideas') return result(task, { items: [0, 1].map((i) => ({ ...task.input, i, idea: `idea${i}` })) });
  return result(task, { record: { id: `documents-${task.index}`, text: `doc ${task.index}` } });
}

/** Plays the workers: takes waiting tasks, removes them and publishes their results. */
async function serveWaiting(redis: import('ioredis').Redis, prefix: string, queues: StageQueues, respond = answer): Promise<number> {
  const waiting = (await Promise.all(Object.values(queues).map((q) => q.getJobs(['waiting', 'prioritized', 'delayed'])))).flat().filter(Boolean);
  for (const job of waiting) {
    await job.remove();
    await publishResult(redis, prefix, respond(job.data as TaskData));
  }
  return waiting.length;
}

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

t.test('the backlog stays within the window and refills only below the low watermark; the run completes once', async (t) => {
  const { redis, prefix, dataDir, queues, runs, newProducer } = await setup(t);
  const window = 6;
  const producer = newProducer({ window });
  const { run } = await runs.create({ ...SPEC, documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 4 } });
  producer.start();
  const backlogs: number[] = [];
  await until(async () => {
    const waiting = (await Promise.all(Object.values(queues).map((q) => q.getWaitingCount()))).reduce((a, b) => a + b, 0);
    if (waiting > 0) backlogs.push(waiting);
    // Answer half the backlog at a time, so refills can be seen happening (or not) between answers.
    const jobs = (await Promise.all(Object.values(queues).map((q) => q.getJobs(['waiting'])))).flat().filter(Boolean);
    for (const job of jobs.slice(0, Math.max(1, Math.floor(jobs.length / 2)))) {
      await job.remove();
      await publishResult(redis, prefix, answer(job.data as TaskData));
    }
    return (await runs.state(run.id)) === 'completed';
  });
  t.ok(Math.max(...backlogs) <= window, `never more than the window queued (max ${Math.max(...backlogs)})`);
  t.ok(backlogs.some((n) => n > producer.expander.lowWatermark), 'refills go above the low watermark');
  const docs = readFileSync(runFilePath(dataDir, run.id, 'documents'), 'utf8').trim().split('\n');
  // 3 facts → 6 doc types → 12 ideas → 48 documents
  t.equal(docs.length, 48);
  t.equal(new Set(docs.map((l) => JSON.parse(l).id)).size, 48);
  const stats = await runs.stats(run.id);
  t.equal(stats['documents:enqueued'], 48);
  t.equal(stats['documents:done'], 48);
  t.equal(stats['tokens:prompt'], 10 * (3 + 6 + 48));
  t.same(await producer.ledger.inflight(run.id, ['doc-types', 'doc-ideas', 'documents']), { 'doc-types': 0, 'doc-ideas': 0, documents: 0 });
  t.equal(await redis.xlen(runKeys(prefix, run.id).results), 0, 'the results stream is empty at the end');
});

t.test('a result delivered twice, in one batch or two, is committed once; spend is counted for both', async (t) => {
  const { redis, prefix, dataDir, runs, newProducer } = await setup(t);
  const producer = newProducer();
  const { run } = await runs.create({ universe: 'u', chats: { promptsPerTrait: 1 }, traits: ['t0'] });
  await producer.tick();
  await producer.tick();
  const task: TaskData = { runId: run.id, stage: 'chat-responses', index: 0, input: {} };
  const r = result(task, { record: { id: 'chat-responses-0', messages: [] } });
  await publishResult(redis, prefix, r);
  await publishResult(redis, prefix, r);
  producer.start();
  await until(async () => (await redis.xlen(runKeys(prefix, run.id).results)) === 0);
  await publishResult(redis, prefix, r);
  await until(async () => (await redis.xlen(runKeys(prefix, run.id).results)) === 0);
  const lines = readFileSync(runFilePath(dataDir, run.id, 'chats'), 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  const stats = await runs.stats(run.id);
  t.equal(stats['chat-responses:done'], 1);
  t.equal(stats.calls, 3, 'every delivery made its calls');
});

t.test('a batch written but not committed (the owner froze) is committed once by the next owner; the old owner is fenced', async (t) => {
  const { redis, prefix, dataDir, queues, runs, newProducer } = await setup(t);
  const first = newProducer({ lockTtlMs: 600 });
  const { run } = await runs.create(SPEC);
  first.start();
  await until(async () => (await serveWaiting(redis, prefix, queues)) > 0 && (await runs.stats(run.id))['doc-types:done'] === 3);
  // The first owner writes its next batch to the files and then freezes before its ledger commit.
  let release!: () => void;
  const frozen = new Promise<void>((r) => (release = r));
  const realCommit = first.ledger.commit.bind(first.ledger);
  let reached!: () => void;
  const atCommit = new Promise<void>((r) => (reached = r));
  first.ledger.commit = async (...args) => {
    reached();
    await frozen;
    return realCommit(...args);
  };
  first.leases.renew = async () => {}; // frozen: no renewals either
  await serveWaiting(redis, prefix, queues);
  await atCommit;
  const committedBefore = Number(await redis.hget(runKeys(prefix, run.id).offsets, 'ideas'));
  const ideasPath = runFilePath(dataDir, run.id, 'ideas');
  t.ok(readFileSync(ideasPath).length > committedBefore, 'the frozen owner wrote past the committed length');

  const second = newProducer({ lockTtlMs: 600 });
  second.start();
  await until(async () => second.owned.includes(run.id));
  release();
  await until(async () => {
    await serveWaiting(redis, prefix, queues);
    return (await runs.state(run.id)) === 'completed';
  });
  t.notOk(first.owned.includes(run.id), 'the old owner let the run go');
  const docs = readFileSync(runFilePath(dataDir, run.id, 'documents'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);
  t.equal(docs.length, 24);
  t.equal(new Set(docs).size, 24, 'no document twice');
  const ideas = readFileSync(ideasPath, 'utf8').trim().split('\n');
  t.equal(ideas.length, 12, 'every idea once');
  const stats = await runs.stats(run.id);
  t.equal(stats['doc-ideas:done'], 6);
  t.equal(stats['documents:done'], 24);
});

t.test('ownership moves: a run whose owner stops is taken over by another producer and completes', async (t) => {
  const { redis, prefix, queues, runs, newProducer } = await setup(t);
  const a = newProducer({ lockTtlMs: 500 });
  const b = newProducer({ lockTtlMs: 500 });
  const { run: one } = await runs.create(SPEC);
  const { run: two } = await runs.create(SPEC);
  a.start();
  b.start();
  await until(async () => a.owned.length + b.owned.length === 2);
  t.equal(a.owned.length, 1, 'runs are shared: one each');
  t.equal(b.owned.length, 1);
  const moved = a.owned[0]!;
  await a.close();
  await until(async () => b.owned.includes(moved));
  await until(async () => {
    await serveWaiting(redis, prefix, queues);
    return (await runs.state(one.id)) === 'completed' && (await runs.state(two.id)) === 'completed';
  });
  t.pass('both runs completed after the move');
});

t.test('results of a cancelled run are consumed without being written', async (t) => {
  const { redis, prefix, dataDir, runs, newProducer } = await setup(t);
  const producer = newProducer();
  const { run } = await runs.create({ universe: 'u', chats: { promptsPerTrait: 1 }, traits: ['t0'] });
  producer.start();
  await until(async () => (await runs.state(run.id)) === 'running');
  await runs.finish(run.id, 'cancelled');
  await publishResult(redis, prefix, result({ runId: run.id, stage: 'chat-responses', index: 0, input: {} }, { record: { id: 'x' } }));
  await new Promise((r) => setTimeout(r, 300));
  t.throws(() => readFileSync(runFilePath(dataDir, run.id, 'chats')), 'nothing was written');
  t.notOk((await runs.stats(run.id))['chat-responses:done']);
});

t.test('the reconciler dead-letters a job BullMQ failed without a result, and re-enqueues a task whose job vanished', async (t) => {
  const { redis, prefix, queues, runs, newProducer, metrics } = await setup(t);
  const producer = newProducer({ reconcileIntervalMs: 150, attempts: 1 });
  const { run } = await runs.create({ universe: 'u', keyFacts: ['f0', 'f1'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } });
  producer.start();
  await until(async () => (await queues['doc-types'].getWaitingCount()) === 2);
  // One task's job fails inside BullMQ with no result published (as a stall-limit failure does).
  const worker = new Worker('doc-types', null, { connection: redis, prefix, autorun: false });
  t.teardown(() => worker.close());
  const job = (await worker.getNextJob('tok')) as Job<TaskData>;
  await job.moveToFailed(new Error('stalled more than allowable limit'), 'tok', false);
  // The other task's job disappears altogether.
  const [other] = await queues['doc-types'].getJobs(['waiting']);
  await other!.remove();
  await until(async () => (await queues['doc-types'].getWaitingCount()) === 1, 10_000);
  const requeued = (await queues['doc-types'].getJobs(['waiting']))[0]!;
  t.equal((requeued.data as TaskData).index, (other!.data as TaskData).index, 'the vanished task is enqueued again');
  t.match(requeued.id, /\.r1$/, 'under a new job id');
  t.same((requeued.data as TaskData).input, other!.data.input, 'with its input found again');
  await until(async () => {
    await serveWaiting(redis, prefix, queues);
    return (await runs.state(run.id)) === 'completed';
  });
  const dead = await redis.hgetall(runKeys(prefix, run.id).deadLetters);
  t.equal(Object.keys(dead).length, 1, 'the failed job became a dead letter');
  t.match(JSON.parse(Object.values(dead)[0]!).error, /stalled more than allowable limit/);
  const stats = await runs.stats(run.id);
  t.equal(stats['doc-types:failed'], 1);
  t.equal(stats['doc-types:done'], 2);
  const repairs = Object.fromEntries((await metrics.reconcilerRepairs.get()).values.map((v) => [v.labels.kind, v.value]));
  t.same(repairs, { 'failed-job': 1, 'lost-task': 1 }, 'each repair is counted by kind');
});
