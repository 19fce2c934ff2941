import { Worker } from 'bullmq';
import t from 'tap';
import { closeQueues, createStageQueues, farmQueueOptions, taskJobId } from '../../../core/queues.js';
import { readRunStatus } from '../../../core/runs/run-status.js';
import { RunStore } from '../../../core/runs/run-store.js';
import { testRedis } from '../../helpers/redis.js';

const SPEC = { universe: '- Aster admits uncertainty.', keyFacts: ['Aster admits uncertainty.'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };

t.test('status counts each run\'s active tasks per stage from the queues\' active lists, without reading job data', async (t) => {
  const { redis, prefix } = await testRedis(t, 'status');
  const runs = new RunStore(redis, prefix);
  const queues = createStageQueues(redis, prefix);
  t.teardown(() => closeQueues(Object.values(queues)));
  const a = (await runs.create(SPEC)).run;
  const b = (await runs.create(SPEC)).run;
  await runs.markRunning(a.id);
  await runs.markRunning(b.id);

  // Jobs held active by workers that do not finish them until the test says so.
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const connection = redis.duplicate();
  const workers = (['documents', 'doc-ideas'] as const).map((stage) => new Worker(stage, () => held, { ...farmQueueOptions(connection, prefix), concurrency: 10 }));
  t.teardown(async () => {
    release();
    await Promise.all(workers.map((w) => w.close()));
    connection.disconnect();
  });
  const add = (runId: string, stage: 'documents' | 'doc-ideas', n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => queues[stage].add(stage, { runId, stage, index: i, input: {} }, { jobId: taskJobId(runId, stage, i) })));
  await Promise.all([add(a.id, 'documents', 3), add(b.id, 'documents', 2), add(a.id, 'doc-ideas', 1)]);
  const deadline = Date.now() + 5000;
  while ((await queues.documents.getActiveCount()) < 5 || (await queues['doc-ideas'].getActiveCount()) < 1) {
    if (Date.now() > deadline) return t.fail('jobs did not become active');
    await new Promise((r) => setTimeout(r, 20));
  }
  const statusA = await readRunStatus(redis, prefix, runs, await runs.getSummary(a.id), queues);
  const statusB = await readRunStatus(redis, prefix, runs, await runs.getSummary(b.id), queues);
  t.equal(statusA.stages.documents?.active, 3, 'run A: 3 documents tasks active');
  t.equal(statusA.stages['doc-ideas']?.active, 1, 'run A: 1 doc-ideas task active');
  t.equal(statusB.stages.documents?.active, 2, 'run B: 2, none of A\'s');
  t.equal(statusB.stages['doc-ideas'], undefined, 'run B has no doc-ideas work');
  t.notOk('spec' in statusA, 'status carries no spec');
});
