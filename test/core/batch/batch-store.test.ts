import t, { type Test } from 'tap';
import { BatchStore, type BatchResultItem } from '../../../core/batch/batch-store.js';
import { batchKeys, runKeys } from '../../../core/keys.js';
import { FencedError } from '../../../core/runs/run-ledger.js';
import { testRedis } from '../../helpers/redis.js';

const MODEL = 'gemini-2.5-flash';
const RUN = 'run_store';
const TOKEN = 'owner-1:1';
const body = (text: string) => ({ contents: [{ role: 'user', parts: [{ text }] }], generationConfig: { temperature: 1, maxOutputTokens: 100 } });
const key = (n: number) => n.toString(16).padStart(64, '0');
/** The budget hold a worker reserved for request n. */
const HOLD = (n: number) => ({ id: `hold-${n}`, nano: 1000 + n, runId: RUN, runHeld: true, model: MODEL, day: '2026-12-02' });

async function setup(t: Test) {
  const { redis, prefix } = await testRedis(t, 'batch-store');
  await redis.set(runKeys(prefix, RUN).owner, TOKEN);
  const store = new BatchStore(redis, prefix);
  const ask = (n: number, jobId = `${RUN}.documents.${n}`) => store.ask(RUN, { key: key(n), task: `documents:${n}`, jobId, model: MODEL, request: body(`prompt ${n}`) }, { add: true, hold: HOLD(n) });
  return { redis, prefix, store, ask };
}

function result(n: number, text = `answer ${n}`): BatchResultItem {
  return { key: key(n), stage: 'documents', answer: { text, finishReason: 'STOP' }, tokens: { promptTokens: 10, cachedTokens: 0, outputTokens: 20, thoughtsTokens: 0 }, costUsd: 0.001, unpriced: false };
}

t.test('a request is added once however often its task asks; a batch takes the oldest, recorded submitting before anything is sent', async (t) => {
  const { store, ask, redis, prefix } = await setup(t);
  t.equal(await store.ask(RUN, { key: key(0), task: 'documents:0', jobId: 'j', model: MODEL, request: body('prompt 0') }, { add: false }), 'unknown', 'a look without adding');
  t.same(await store.pending(RUN), [], 'adds nothing');
  for (let n = 0; n < 3; n++) t.equal(await ask(n), 'added', 'no answer yet: added');
  t.equal(await ask(1), 'waiting', 'asking again (a task looking again) adds nothing');
  t.match(await store.pending(RUN), [{ model: MODEL, count: 3 }]);

  const record = await store.form(RUN, TOKEN, MODEL, 2);
  t.match(record, { seq: 1, model: MODEL, count: 2, state: 'submitting', displayName: `${prefix}/${RUN}/1` });
  t.same((await store.members(RUN, 1)).map((m) => m.key), [key(0), key(1)], 'the two oldest, in order');
  t.equal(await ask(0), 'waiting', 'a request in a batch is not pending again');
  t.match(await store.pending(RUN), [{ count: 1 }]);
  const bodies = await store.requests(RUN, [key(0), key(1)]);
  t.same(bodies.get(key(1)), body('prompt 1'), 'the request as asked');

  await t.rejects(store.form(RUN, 'someone-else:2', MODEL, 2), FencedError, 'a producer without the lease forms nothing');
  t.match(await store.pending(RUN), [{ count: 1 }], 'and takes nothing from pending');
  t.equal(await redis.hlen(batchKeys(prefix, RUN).batches), 1);
});

t.test('each chunk of results is applied once: answers stored for wanted requests, spend counted once, tasks woken', async (t) => {
  const { store, ask, redis, prefix } = await setup(t);
  for (let n = 0; n < 3; n++) await ask(n);
  const record = (await store.form(RUN, TOKEN, MODEL, 10))!;
  await store.forget(RUN, ['documents:2']);
  const items = [result(0), { ...result(1), answer: { error: { code: 13, message: 'INTERNAL' } } }, result(2)];
  const first = await store.answer(RUN, TOKEN, record.seq, 0, MODEL, items);
  t.same(first.stored, [0, 1], 'answers of requests still wanted (task 2 was committed meanwhile)');
  t.same(first.wakes, [{ stage: 'documents', jobId: `${RUN}.documents.0` }, { stage: 'documents', jobId: `${RUN}.documents.1` }]);
  t.same(first.holds, [HOLD(0), HOLD(1)], 'with the budget holds of the stored answers, to settle');
  const again = await store.answer(RUN, TOKEN, record.seq, 0, MODEL, items);
  t.same(again, { applied: false, wakes: [], stored: [], holds: [] }, 'the same chunk again (a new owner re-reading the output) changes nothing');

  const stream = await redis.xrange(runKeys(prefix, RUN).results, '-', '+');
  t.equal(stream.length, 1, 'one usage report for the chunk');
  const report = JSON.parse(stream[0]![1][1]!);
  t.match(report, { stage: 'documents', model: MODEL, usage: { calls: 3, promptTokens: 30, outputTokens: 60, costUsd: 0.003 } }, 'every result billed, wanted or not, once');

  t.same(await ask(0), { text: 'answer 0', finishReason: 'STOP' }, 'the task finds its answer');
  t.same(await ask(1), { error: { code: 13, message: 'INTERNAL' } }, 'or its error');
  t.ok(await store.answerOnline(RUN, key(1), { text: 'online', finishReason: 'STOP' }), 'an online answer replaces the error');
  t.same(await ask(1), { text: 'online', finishReason: 'STOP' });
  t.notOk(await store.answerOnline(RUN, key(2), { text: 'late', finishReason: 'STOP' }), 'not kept for a committed task');

  const ended = await store.finish(RUN, TOKEN, record, { requeue: false, maxTries: 2, error: { error: { code: 'MISSING', message: 'none' } }, finalState: 'succeeded' });
  t.same(ended, { wakes: [], requeued: 0, failed: 0, holds: [] }, 'every member was answered');
  t.same(await store.records(RUN), [], 'the record goes once the batch is consumed');
  t.match(await store.stats(RUN), { 'requests:answered': '1', 'requests:failed': '1', 'requests:online': '1', 'batches:succeeded': '1' });
});

t.test('a failed batch puts its requests back until they have been in SDF_BATCH_TRIES batches, then they get the error', async (t) => {
  const { store, ask } = await setup(t);
  await ask(0);
  const error = { error: { code: 'JOB_STATE_FAILED', message: 'failed' } };
  const first = (await store.form(RUN, TOKEN, MODEL, 10))!;
  t.same(await store.finish(RUN, TOKEN, first, { requeue: true, maxTries: 2, error, finalState: 'failed' }), { wakes: [], requeued: 1, failed: 0, holds: [] });
  t.match(await store.pending(RUN), [{ count: 1, oldestAt: 0 }], 'back at the head of pending, due at once');
  const second = (await store.form(RUN, TOKEN, MODEL, 10))!;
  t.equal(second.seq, 2);
  const ended = await store.finish(RUN, TOKEN, second, { requeue: true, maxTries: 2, error, finalState: 'failed' });
  t.same(ended, { wakes: [{ stage: 'documents', jobId: `${RUN}.documents.0` }], requeued: 0, failed: 1, holds: [HOLD(0)] }, 'its second batch failed too: the error, its task woken, its budget hold given back');
  t.same(await ask(0), error);
  t.same(await store.pending(RUN), []);
});

t.test('forget drops every trace of committed tasks, pending or answered', async (t) => {
  const { store, ask, redis, prefix } = await setup(t);
  for (let n = 0; n < 4; n++) await ask(n);
  const record = (await store.form(RUN, TOKEN, MODEL, 2))!;
  await store.answer(RUN, TOKEN, record.seq, 0, MODEL, [result(0), result(1)]);
  await store.finish(RUN, TOKEN, record, { requeue: false, maxTries: 2, error: { error: { code: 'MISSING', message: '' } }, finalState: 'succeeded' });
  t.same(await store.forget(RUN, ['documents:0', 'documents:1', 'documents:2', 'documents:3']), { dropped: 4, holds: [HOLD(2), HOLD(3)] }, 'holds of requests never answered come back to be released');
  const k = batchKeys(prefix, RUN);
  for (const key of [k.requests, k.answers, k.tries, k.tasks, k.holds, k.pending(MODEL)]) t.equal(await redis.exists(key), 0, `${key.slice(prefix.length)} is empty`);
});
