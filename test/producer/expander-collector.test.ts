import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createLogger } from '../../core/logger.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunStore } from '../../core/runs/run-store.js';
import { runKeys } from '../../core/keys.js';
import { ZERO_USAGE, type TaskData, type TaskResult } from '../../core/task.js';
import { Producer } from '../../producer/producer.js';
import { runFilePath } from '../../core/runs/run-files.js';
import { testRedis } from '../helpers/redis.js';

async function setup(t: Test, window: number) {
  const { redis, prefix } = await testRedis(t, 'prod');
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-prod-'));
  const queues = createStageQueues(redis, prefix);
  const runs = new RunStore(redis, prefix);
  const producer = new Producer({ redis, connection: redis, queues, runs, prefix, dataDir, window, logger: createLogger('silent'), tickMs: 60_000 });
  t.teardown(async () => {
    await producer.close();
    await closeQueues(Object.values(queues));
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { redis, prefix, dataDir, queues, runs, producer };
}

function result(task: TaskData, extra: Partial<TaskResult>): TaskResult {
  return { runId: task.runId, stage: task.stage, index: task.index, id: `${task.stage}-${task.index}`, outcome: 'accepted', model: 'm', usage: { ...ZERO_USAGE, calls: 1, promptTokens: 10 }, ...extra };
}

t.test('expansion never holds more than the window, and a run completes when all is committed', async (t) => {
  const window = 5;
  const { redis, prefix, dataDir, queues, runs, producer } = await setup(t, window);
  const { run } = await runs.create({ universe: 'u', keyFacts: ['f0', 'f1', 'f2'], documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 2 } });
  await producer.tick();
  t.ok(producer.isLeader);
  // Results are committed by hand below, deterministically, instead of by the collector's worker.
  await producer.collector.close();
  const maxSeen = { n: 0 };
  let committed = 0;
  for (let guard = 0; guard < 500; guard++) {
    await producer.drive(run.id);
    const waiting = (await Promise.all(Object.values(queues).map((q) => q.getJobs(['waiting'])))).flat();
    maxSeen.n = Math.max(maxSeen.n, waiting.length);
    if (waiting.length === 0) break;
    for (const job of waiting) {
      const task = job.data as TaskData;
      await job.remove();
      let r: TaskResult;
      if (task.stage === 'doc-types') r = result(task, { items: [0, 1].map((t) => ({ ...task.input, t, docType: `type${t}` })) });
      else if (task.stage === 'doc-ideas') r = result(task, { items: [0, 1].map((i) => ({ ...task.input, i, idea: `idea${i}` })) });
      else r = result(task, { record: { id: `documents-${task.index}`, text: `doc ${task.index}` } });
      t.equal(await producer.collector.commit({ data: r }), 'committed');
      committed++;
    }
  }
  t.ok(maxSeen.n <= window, `at most ${window} tasks queued at once (saw ${maxSeen.n})`);
  // 3 facts → 3 doc-types tasks → 6 doc-ideas → 12 ideas × 2 docs = 24 documents
  t.equal(committed, 3 + 6 + 24);
  await producer.drive(run.id);
  t.equal(await runs.state(run.id), 'completed');
  const docs = readFileSync(runFilePath(dataDir, run.id, 'documents'), 'utf8').trim().split('\n');
  t.equal(docs.length, 24);
  t.equal(new Set(docs.map((l) => JSON.parse(l).id)).size, 24);
  const stats = await runs.stats(run.id);
  t.equal(stats['documents:enqueued'], 24);
  t.equal(stats['documents:done'], 24);
  t.equal(stats['tokens:prompt'], 330);
  t.equal(await redis.hget(runKeys(prefix, run.id).inflight, 'documents'), '0');
});

t.test('a result delivered twice, or after a crash between write and commit, is written once', async (t) => {
  const { redis, prefix, dataDir, runs, producer } = await setup(t, 100);
  const { run } = await runs.create({ universe: 'u', chats: { promptsPerTrait: 1 }, traits: ['t0'] });
  await producer.tick();
  await producer.collector.close();
  await producer.drive(run.id);
  const task: TaskData = { runId: run.id, stage: 'chat-responses', index: 0, input: {} };
  const r = result(task, { record: { id: 'chat-responses-0', messages: [] } });
  t.equal(await producer.collector.commit({ data: r }), 'committed');
  t.equal(await producer.collector.commit({ data: r }), 'duplicate');

  // Crash simulation: a second result is appended but its transaction never runs.
  const path = runFilePath(dataDir, run.id, 'chats');
  const task1: TaskData = { ...task, index: 1 };
  const committedLength = Number(await redis.hget(runKeys(prefix, run.id).offsets, 'chats'));
  const { appendFileSync } = await import('node:fs');
  appendFileSync(path, JSON.stringify({ id: 'chat-responses-1', partial: true }) + '\n');
  producer.collector.release(run.id); // the process "restarts": files are reopened
  t.equal(await producer.collector.commit({ data: result(task1, { record: { id: 'chat-responses-1', messages: [] } }) }), 'committed');
  const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.same(lines.map((l) => l.id), ['chat-responses-0', 'chat-responses-1']);
  t.notOk(lines[1].partial, 'the uncommitted write was cut off');
  t.ok(committedLength > 0);
});

t.test('results of a cancelled run are dropped', async (t) => {
  const { runs, producer } = await setup(t, 100);
  const { run } = await runs.create({ universe: 'u', chats: { promptsPerTrait: 1 }, traits: ['t0'] });
  await producer.tick();
  await producer.collector.close();
  await runs.finish(run.id, 'cancelled');
  const task: TaskData = { runId: run.id, stage: 'chat-responses', index: 0, input: {} };
  t.equal(await producer.collector.commit({ data: result(task, { record: { id: 'x' } }) }), 'dropped');
});
