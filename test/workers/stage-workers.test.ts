import { Queue, type Job } from 'bullmq';
import t from 'tap';
import { createLogger } from '../../core/logger.js';
import { STAGES, type Stage } from '../../core/stages.js';
import type { TaskData, TaskResult } from '../../core/task.js';
import { createStageWorkers, STAGE_PRIORITY } from '../../workers/stage-workers.js';
import { testRedis } from '../helpers/redis.js';

const logger = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function task(stage: Stage, index: number): TaskData {
  return { runId: 'r1', stage, index, input: {} } as unknown as TaskData;
}

/** Active jobs of every stage queue, read in one round trip (BullMQ keeps them in `<prefix>:<queue>:active`). */
async function activeCounts(redis: import('ioredis').Redis, prefix: string): Promise<number[]> {
  const pipeline = redis.pipeline();
  for (const stage of STAGES) pipeline.llen(`${prefix}:${stage}:active`);
  return ((await pipeline.exec()) ?? []).map(([, n]) => Number(n));
}

t.test('at most `concurrency` jobs are held across all stage queues while every stage has waiting work', async (t) => {
  const { redis, prefix } = await testRedis(t, 'stageworkers');
  const queues = STAGES.map((stage) => new Queue(stage, { connection: redis, prefix }));
  t.teardown(() => Promise.all(queues.map((q) => q.close())));
  const PER_STAGE = 12;
  const N = 5;
  for (const [i, q] of queues.entries()) {
    await q.addBulk(Array.from({ length: PER_STAGE }, (_, j) => ({ name: 't', data: task(STAGES[i]!, j), opts: { jobId: `${STAGES[i]}-${j}`, removeOnComplete: true } })));
  }
  let running = 0;
  let peakRunning = 0;
  const started: Stage[] = [];
  const ran = new Map<string, number>();
  const workers = createStageWorkers(
    async (job: Job<TaskData>) => {
      started.push(job.data.stage);
      ran.set(job.id!, (ran.get(job.id!) ?? 0) + 1);
      peakRunning = Math.max(peakRunning, ++running);
      await sleep(40);
      running--;
      return 'ok';
    },
    { connection: redis, prefix, concurrency: N, logger },
  );
  t.teardown(() => workers.close(true));

  let peakActive = 0;
  let peakHeld = 0;
  let sampledWhileAllWaiting = 0;
  const total = STAGES.length * PER_STAGE;
  while (ran.size < total || (await activeCounts(redis, prefix)).some((n) => n > 0)) {
    const pipeline = redis.pipeline();
    for (const stage of STAGES) pipeline.llen(`${prefix}:${stage}:wait`);
    const [active, waiting] = await Promise.all([activeCounts(redis, prefix), pipeline.exec().then((r) => (r ?? []).map(([, n]) => Number(n)))]);
    const sum = active.reduce((a, b) => a + b, 0);
    peakActive = Math.max(peakActive, sum);
    peakHeld = Math.max(peakHeld, workers.held());
    if (waiting.every((n) => n > 0)) sampledWhileAllWaiting++;
    await sleep(5);
  }
  t.ok(sampledWhileAllWaiting > 3, `sampled while every stage had waiting work (${sampledWhileAllWaiting} samples)`);
  t.ok(peakActive <= N, `active jobs across all stage queues never above ${N} (peak ${peakActive})`);
  t.ok(peakHeld <= N, `held by the process never above ${N} (peak ${peakHeld})`);
  t.equal(peakRunning, N, `the budget is used: ${N} tasks ran at once`);
  t.equal(ran.size, total, 'every job ran');
  t.ok([...ran.values()].every((n) => n === 1), 'each once');
  t.same(started.slice(0, N), Array(N).fill(STAGE_PRIORITY[0]), 'free slots go to the most downstream stage with work first');
});

t.test('downstream first, but an upstream stage is not starved while downstream work never runs out', async (t) => {
  const { redis, prefix } = await testRedis(t, 'stageworkers');
  const revise = new Queue('revise', { connection: redis, prefix });
  const facts = new Queue('facts', { connection: redis, prefix });
  t.teardown(() => Promise.all([revise.close(), facts.close()]));
  await revise.addBulk(Array.from({ length: 150 }, (_, j) => ({ name: 't', data: task('revise', j), opts: { removeOnComplete: true } })));
  await facts.addBulk(Array.from({ length: 2 }, (_, j) => ({ name: 't', data: task('facts', j), opts: { removeOnComplete: true } })));
  const started: Stage[] = [];
  const workers = createStageWorkers(
    async (job: Job<TaskData>) => {
      started.push(job.data.stage);
      await sleep(5);
      return 'ok';
    },
    { connection: redis, prefix, concurrency: 5, logger },
  );
  t.teardown(() => workers.close(true));
  while (started.length < 152) await sleep(20);
  t.equal(started[0], 'revise', 'the most downstream stage is served first');
  const lastFacts = started.lastIndexOf('facts');
  t.ok(lastFacts < started.lastIndexOf('revise') - 20, `both upstream tasks ran while downstream work remained (the last at ${lastFacts} of 152)`);
});

t.test('a graceful close waits for the tasks held and acks them; nothing is left active', async (t) => {
  const { redis, prefix } = await testRedis(t, 'stageworkers');
  const queue = new Queue('documents', { connection: redis, prefix });
  t.teardown(() => queue.close());
  await queue.addBulk(Array.from({ length: 10 }, (_, j) => ({ name: 't', data: task('documents', j), opts: { jobId: `d-${j}` } })));
  let finished = 0;
  const workers = createStageWorkers(
    async () => {
      await sleep(300);
      finished++;
      return 'ok';
    },
    { connection: redis, prefix, concurrency: 3, stages: ['documents'], logger },
  );
  while (workers.held() < 3) await sleep(10);
  await workers.close();
  t.equal(finished, 3, 'the three tasks held ran to the end');
  const counts = await queue.getJobCounts('active', 'completed', 'waiting');
  t.match(counts, { active: 0, completed: 3, waiting: 7 }, 'acked, and no more fetched after the close began');
});

t.test('locks are renewed while a task runs longer than the lock; final failures reach onGaveUp', async (t) => {
  const { redis, prefix } = await testRedis(t, 'stageworkers');
  const queue = new Queue('doc-types', { connection: redis, prefix });
  t.teardown(() => queue.close());
  const stalled: string[] = [];
  const gaveUp: TaskResult[] = [];
  const workers = createStageWorkers(
    async (job: Job<TaskData>) => {
      if (job.data.index === 1) throw new Error('boom');
      await sleep(2500);
      return 'ok';
    },
    { connection: redis, prefix, concurrency: 4, stages: ['doc-types'], lockDuration: 1000, stalledInterval: 500, onGaveUp: async (r) => void gaveUp.push(r), logger },
  );
  t.teardown(() => workers.close(true));
  for (const w of workers.workers) w.on('stalled', (id) => stalled.push(id));
  await queue.add('t', task('doc-types', 0), { jobId: 'long' });
  await queue.add('t', task('doc-types', 1), { jobId: 'bad', attempts: 1 });
  for (let i = 0; i < 100 && (await queue.getCompletedCount()) < 1; i++) await sleep(50);
  t.equal(await queue.getCompletedCount(), 1, 'the long task completed');
  t.same(stalled, [], 'and was never taken for stalled');
  t.equal(gaveUp.length, 1, 'the failed task was reported once');
  t.match(gaveUp[0], { stage: 'doc-types', index: 1, outcome: 'failed', error: /boom/ });
});
