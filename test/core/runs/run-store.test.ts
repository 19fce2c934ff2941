import t from 'tap';
import { runKeys } from '../../../core/keys.js';
import { listDeadLetters } from '../../../core/runs/retry-failed.js';
import { RunStore } from '../../../core/runs/run-store.js';
import { testRedis } from '../../helpers/redis.js';

const SPEC = { universe: '- Aster admits uncertainty.', chats: { promptsPerTrait: 1 } };

t.test('a cancel racing the completion: exactly one of them moves the run, and the state is the winner\'s', async (t) => {
  const { redis, prefix } = await testRedis(t, 'finish');
  const runs = new RunStore(redis, prefix);
  for (let i = 0; i < 20; i++) {
    const { run } = await runs.create(SPEC);
    const [completed, cancelled] = await Promise.all([runs.finish(run.id, 'completed'), runs.finish(run.id, 'cancelled')]);
    t.equal(Number(completed) + Number(cancelled), 1, `run ${i}: one finish moved it`);
    t.equal(await runs.state(run.id), completed ? 'completed' : 'cancelled');
    t.notOk(await redis.sismember(`${prefix}:runs:active`, run.id), 'no longer driven');
  }
  await t.rejects(runs.finish('run_missing', 'completed'), { name: 'NotFoundError' });
});

t.test('the dead-letter list pages through HSCAN: all of a large list, or up to the limit', async (t) => {
  const { redis, prefix } = await testRedis(t, 'dead');
  const runs = new RunStore(redis, prefix);
  const { run } = await runs.create(SPEC);
  const letters = Object.fromEntries(
    Array.from({ length: 2500 }, (_, i) => [`documents:${i}`, JSON.stringify({ id: `documents-${i}`, stage: 'documents', index: i, error: 'ApiError', attempts: 5, input: {} })]),
  );
  await redis.hset(runKeys(prefix, run.id).deadLetters, letters);
  const all = await listDeadLetters(redis, prefix, run.id, 100_000);
  t.equal(all.length, 2500);
  t.equal(new Set(all.map((l) => l.index)).size, 2500, 'each once');
  t.equal((await listDeadLetters(redis, prefix, run.id, 700)).length, 700);
});
