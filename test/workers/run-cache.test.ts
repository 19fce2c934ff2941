import t from 'tap';
import { RunStore } from '../../core/runs/run-store.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import { RunCache } from '../../workers/run-cache.js';
import { testRedis } from '../helpers/redis.js';

const spec: RunSpec = { name: 'cache', universe: 'A world.', keyFacts: ['A fact.'], documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a cancel reaches the worker within the state bound, without a Redis read per task before it', async (t) => {
  const { redis, prefix } = await testRedis(t, 'runcache');
  const store = new RunStore(redis, prefix);
  const { run } = await store.create(spec);
  let reads = 0;
  const counting = Object.assign(Object.create(store) as RunStore, {
    state: (id: string) => (reads++, store.state(id)),
  });
  const TTL = 200;
  const cache = new RunCache(counting, TTL);

  t.equal(await cache.state(run.id), 'queued');
  // 64 tasks at once, and more while the entry is fresh: no further read.
  await Promise.all(Array.from({ length: 64 }, () => cache.state(run.id)));
  t.equal(reads, 1, 'one read for the tasks of a fresh entry');

  await store.finish(run.id, 'cancelled');
  const cancelledAt = Date.now();
  let seen: string | undefined;
  while (Date.now() - cancelledAt < TTL * 5) {
    seen = await cache.state(run.id);
    if (seen === 'cancelled') break;
    await sleep(5);
  }
  t.equal(seen, 'cancelled', 'the cancel is seen');
  // Slack for a loaded machine's event loop; the bound itself is the TTL.
  t.ok(Date.now() - cancelledAt <= TTL + 250, `seen within the bound (${Date.now() - cancelledAt} ms, bound ${TTL} ms)`);
  t.ok(reads <= 3, `about one read per bound, not one per task (${reads} reads)`);
});

t.test('tasks that find the state stale together share one read', async (t) => {
  const { redis, prefix } = await testRedis(t, 'runcache');
  const store = new RunStore(redis, prefix);
  const { run } = await store.create(spec);
  let reads = 0;
  const counting = Object.assign(Object.create(store) as RunStore, { state: (id: string) => (reads++, store.state(id)) });
  const cache = new RunCache(counting, 50);
  await cache.state(run.id);
  await sleep(60);
  const states = await Promise.all(Array.from({ length: 64 }, () => cache.state(run.id)));
  t.same(new Set(states), new Set(['queued']));
  t.equal(reads, 2, 'the stale entry is read once for all 64');
});

t.test('the spec is read once per run, and a run not (yet) found is read again', async (t) => {
  const { redis, prefix } = await testRedis(t, 'runcache');
  const store = new RunStore(redis, prefix);
  let finds = 0;
  const counting = Object.assign(Object.create(store) as RunStore, { find: (id: string) => (finds++, store.find(id)) });
  const cache = new RunCache(counting);
  t.equal(await cache.spec('run_missing'), undefined);
  t.equal(await cache.spec('run_missing'), undefined);
  t.equal(finds, 2, 'a missing run is not remembered');
  const { run } = await store.create(spec);
  const specs = await Promise.all(Array.from({ length: 64 }, () => cache.spec(run.id)));
  t.same(specs[63], spec);
  t.equal(await cache.spec(run.id), specs[0]);
  t.equal(finds, 3, 'one read for 65 tasks of a run');
});

t.test('a failed read is not cached: the next task reads again', async (t) => {
  const { redis, prefix } = await testRedis(t, 'runcache');
  const store = new RunStore(redis, prefix);
  const { run } = await store.create(spec);
  let fail = true;
  const flaky = Object.assign(Object.create(store) as RunStore, {
    state: (id: string) => (fail ? Promise.reject(new Error('redis down')) : store.state(id)),
  });
  const cache = new RunCache(flaky, 1000);
  await t.rejects(Promise.resolve(cache.state(run.id)), /redis down/);
  fail = false;
  t.equal(await cache.state(run.id), 'queued');
});
