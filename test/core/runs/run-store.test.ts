import type { Redis } from 'ioredis';
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

t.test('a cancel that lands while the run is being started is not overwritten by the start', async (t) => {
  const { redis, prefix } = await testRedis(t, 'start');
  const runs = new RunStore(redis, prefix);
  const { run } = await runs.create(SPEC);
  t.ok(await runs.finish(run.id, 'cancelled'));
  t.notOk(await runs.markRunning(run.id), 'the start does not move a cancelled run');
  t.equal(await runs.state(run.id), 'cancelled');
  const { run: next } = await runs.create(SPEC);
  t.ok(await runs.markRunning(next.id), 'a queued run starts');
  t.equal(await runs.state(next.id), 'running');
  t.notOk(await runs.markRunning(next.id), 'once');
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

/**
 * A client that dies before its `failAt`-th command (counted from 1): the command and everything
 * after it never reach Redis, as when the API process crashes between two steps.
 */
function crashingAt(redis: Redis, failAt: number): Redis {
  let sent = 0;
  return new Proxy(redis, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || !/^[a-z]+$/.test(property)) return value;
      return (...args: unknown[]) => {
        if (++sent >= failAt) return Promise.reject(new Error(`crashed before command ${sent} (${property})`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

t.test('an idempotency key is claimed with its run in one step: a crash at any point leaves a key that works', async (t) => {
  const { redis, prefix } = await testRedis(t, 'idem');
  for (let failAt = 1; failAt <= 4; failAt++) {
    const key = `crash-${failAt}`;
    await new RunStore(crashingAt(redis, failAt), prefix).create(SPEC, key).catch(() => undefined);
    const again = await new RunStore(redis, prefix).create(SPEC, key);
    const run = await new RunStore(redis, prefix).find(again.run.id);
    t.ok(run, `crash before command ${failAt}: the retried submission answers with a run that exists (${again.run.id}, created ${again.created})`);
  }
});

t.test('a key whose run was deleted is claimed afresh, and the same key with another body is refused', async (t) => {
  const { redis, prefix } = await testRedis(t, 'idem');
  const runs = new RunStore(redis, prefix);
  const first = await runs.create(SPEC, 'k');
  t.same(await runs.create(SPEC, 'k'), { run: first.run, created: false }, 'the same submission answers with the same run');
  await t.rejects(runs.create({ ...SPEC, name: 'other' }, 'k'), { name: 'ConflictError', message: /Idempotency-Key "k"/ });
  await redis.del(runKeys(prefix, first.run.id).meta);
  const second = await runs.create(SPEC, 'k');
  t.ok(second.created && second.run.id !== first.run.id, 'a new run for a key whose run is gone');
});
