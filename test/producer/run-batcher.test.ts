import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchStore } from '../../core/batch/batch-store.js';
import { createGeminiClient } from '../../core/gemini/create-gemini-client.js';
import { runKeys } from '../../core/keys.js';
import { createLogger } from '../../core/logger.js';
import { closeQueues, createStageQueues } from '../../core/queues.js';
import { RunLedger } from '../../core/runs/run-ledger.js';
import { batchSource } from '../../producer/batch/batch-input.js';
import { DEFAULT_BATCH_OPTIONS } from '../../producer/producer.js';
import { RunBatcher, type BatchOptions } from '../../producer/batch/run-batcher.js';
import { startSim, type SimOptions } from '../../sim/index.js';
import { testRedis } from '../helpers/redis.js';

const MODEL = 'gemini-2.5-flash';
const RUN = 'run_batcher';
const TOKEN = 'owner-1:1';
const key = (n: number) => n.toString(16).padStart(64, '0');
const body = (n: number) => ({ contents: [{ role: 'user', parts: [{ text: `Write a short note number ${n}.` }] }], generationConfig: { temperature: 1, maxOutputTokens: 200 } });

/** A run's batch store with `count` pending requests, the simulator, and a batcher factory (each batcher is a fresh owner process). */
async function setup(t: Test, count: number, sim: Partial<SimOptions> = {}) {
  const { redis, prefix } = await testRedis(t, 'batcher');
  await redis.set(runKeys(prefix, RUN).owner, TOKEN);
  await redis.hset(runKeys(prefix, RUN).meta, 'state', 'running');
  const running = await startSim({ port: 0, batchDelayMs: 50, ...sim });
  const queues = createStageQueues(redis, prefix);
  const dataDir = mkdtempSync(join(tmpdir(), 'sdf-batcher-'));
  t.teardown(async () => {
    await closeQueues(Object.values(queues));
    await running.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const store = new BatchStore(redis, prefix);
  for (let n = 0; n < count; n++) await store.ask(RUN, { key: key(n), task: `documents:${n}`, jobId: `${RUN}.documents.${n}`, model: MODEL, request: body(n) });
  const gemini = createGeminiClient({ baseUrl: running.url });
  const batcher = (options: Partial<BatchOptions> = {}) =>
    new RunBatcher({
      runId: RUN,
      stages: ['documents'],
      store,
      gemini,
      queues,
      ledger: new RunLedger(redis, prefix),
      options: { ...DEFAULT_BATCH_OPTIONS, maxAgeMs: 0, pollMinMs: 20, pollMaxMs: 50, ...options },
      costOf: () => 0,
      dataDir,
      metrics: undefined,
      logger: createLogger('silent'),
      token: () => TOKEN,
    });
  /** Ticks a batcher until every request is answered (or fails the test after a few seconds). */
  const drain = async (b: RunBatcher) => {
    for (let i = 0; i < 200; i++) {
      await b.tick();
      const answered = await Promise.all(Array.from({ length: count }, (_, n) => store.ask(RUN, { key: key(n), task: `documents:${n}`, jobId: `${RUN}.documents.${n}`, model: MODEL, request: body(n) })));
      if (answered.every((a) => typeof a === 'object') && (await store.records(RUN)).length === 0) return answered;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('requests still unanswered');
  };
  return { store, sim: running, gemini, batcher, drain };
}

t.test('a batch recorded submitting that had reached Gemini before its owner died is found by name, not sent again', async (t) => {
  const { store, sim, gemini, batcher, drain } = await setup(t, 3);
  // The dead owner's last moves: the record, then the create whose answer it never saw.
  const record = (await store.form(RUN, TOKEN, MODEL, 10))!;
  const requests = await store.requests(RUN, [0, 1, 2].map(key));
  const source = batchSource([...requests].map(([k, b]) => ({ key: k, body: b })), 1e9);
  await gemini.batches.create({ model: MODEL, src: source.kind === 'inline' ? source.requests : [], config: { displayName: record.displayName } });

  const answers = await drain(batcher());
  t.equal(sim.stats().batch.created, 1, 'the batch reached Gemini once');
  t.ok(answers.every((a) => typeof a === 'object' && 'text' in a && a.text.length > 0), 'and its results were stored');
  t.match(await store.stats(RUN), { 'batches:succeeded': '1', 'requests:answered': '3' });
});

t.test('a batch recorded submitting that never reached Gemini is sent by the next owner, once', async (t) => {
  const { store, sim, batcher, drain } = await setup(t, 3);
  await store.form(RUN, TOKEN, MODEL, 10);
  const next = batcher();
  await drain(next);
  for (let i = 0; i < 5; i++) await next.tick();
  t.equal(sim.stats().batch.created, 1, 'sent once');
  t.equal(sim.stats().calls['batches.list'], 1, 'after one look-up by name');
});

t.test('a freshly formed batch is sent without a look-up; two owners one after the other send each batch once', async (t) => {
  const { store, sim, batcher, drain } = await setup(t, 4, { batchDelayMs: 300 });
  const first = batcher();
  await first.tick();
  t.equal(sim.stats().batch.created, 1);
  t.equal(sim.stats().calls['batches.list'] ?? 0, 0, 'no look-up for a batch this process just recorded');
  await first.close();
  // A new owner takes over while the batch is pending at Gemini: it polls it, it does not resend it.
  await drain(batcher());
  t.equal(sim.stats().batch.created, 1);
  t.match(await store.stats(RUN), { 'batches:succeeded': '1', 'requests:answered': '4' });
});

t.test('a batch submission refused with 429 and no RetryInfo backs off and says which limit in status; it goes through once allowed', async (t) => {
  // Files are capped below one batch's input: the upload is refused 429 RESOURCE_EXHAUSTED, with no RetryInfo.
  const { store, sim, batcher, drain } = await setup(t, 3, { filesMaxBytes: 100 });
  // Inline limit 0: every batch goes as an uploaded file.
  const owner = batcher({ inlineMaxBytes: 0, pollMinMs: 200, pollMaxMs: 800 });
  const started = Date.now();
  while (Date.now() - started < 1_000) {
    await owner.tick();
    await new Promise((r) => setTimeout(r, 10));
  }
  const uploads = sim.stats().calls['files.upload'];
  t.ok(uploads! >= 2 && uploads! <= 4, `tried again after 200, 400, 800 ms, not at every pass (${uploads} uploads in 1 s of passes every 10 ms)`);
  const note = (await store.stats(RUN))[`limit:${MODEL}`];
  t.match(note, /batch submission refused with 429 without RetryInfo.*File storage quota exceeded/, `status says which limit: ${note}`);
  t.equal(sim.stats().batch.created, 0);
  sim.options.filesMaxBytes = 1e9;
  await drain(owner);
  t.equal(sim.stats().batch.created, 1);
  t.notOk((await store.stats(RUN))[`limit:${MODEL}`], 'the note goes once a batch is accepted');
});
