import type { ChildProcess } from 'node:child_process';
import { createRedis } from '../../core/redis.js';
import t from 'tap';
import { runKeys } from '../../core/keys.js';
import { startTestFarm } from '../helpers/farm.js';
import { TEST_REDIS_URL } from '../helpers/redis.js';

const spec = (n: number) => ({
  name: `replica-run-${n}`,
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
  documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 5, revise: false },
});

function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
}

t.test('two serve replicas share the runs, one owner each; when one dies its runs move to the other and all complete', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '2000' }, sim: { latencyMs: 60, jitterMs: 20 } });
  const a = await farm.spawnServe();
  const b = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++) runIds.push(await farm.submit(spec(i)));

  const redis = createRedis(TEST_REDIS_URL);
  t.teardown(() => redis.disconnect());
  const ownerPid = async (runId: string) => {
    const token = await redis.get(runKeys(farm.config.prefix, runId).owner);
    return token ? parseInt(token.split('-')[0]!, 36) : undefined;
  };
  // Each replica takes its fair share: ceil(4 runs / 2 live replicas) = 2.
  const deadline = Date.now() + 20_000;
  let owners: (number | undefined)[] = [];
  for (;;) {
    owners = await Promise.all(runIds.map(ownerPid));
    if (owners.every((o) => o !== undefined)) break;
    if (Date.now() > deadline) return t.fail(`not every run found an owner: ${owners}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(owners.filter((o) => o === a.pid).length, 2, `serve A owns two runs (owners ${owners}, A ${a.pid}, B ${b.pid})`);
  t.equal(owners.filter((o) => o === b.pid).length, 2, 'serve B owns the other two');

  a.kill('SIGKILL');
  await exited(a);
  for (const runId of runIds) {
    const status = await farm.waitFor(runId, undefined, 120_000);
    t.equal(status.state, 'completed', `${status.name} completed`);
    const docs = status.stages.documents!;
    t.equal(docs.done, status.stages['doc-ideas']!.items * 5, `${status.name}: every documents task committed once`);
    const exported = await farm.exportLines(runId, 'documents');
    t.equal(exported.length, docs.accepted, `${status.name}: the export holds every accepted document`);
    t.equal(new Set(exported.map((d) => d.id)).size, exported.length, `${status.name}: none twice`);
  }
  t.ok((await Promise.all(runIds.map(ownerPid))).every((o) => o === undefined), 'finished runs have no owner');
});

t.test('a replica that joins later gets its share: the first gives runs back', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '2000' }, sim: { latencyMs: 400, jitterMs: 20 } });
  const a = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '4' });
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++) runIds.push(await farm.submit(spec(i)));
  const redis = createRedis(TEST_REDIS_URL);
  t.teardown(() => redis.disconnect());
  const ownerPid = async (runId: string) => {
    const token = await redis.get(runKeys(farm.config.prefix, runId).owner);
    return token ? parseInt(token.split('-')[0]!, 36) : undefined;
  };
  const waitOwners = async (check: (owners: (number | undefined)[]) => boolean) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const owners = await Promise.all(runIds.map(ownerPid));
      if (check(owners)) return owners;
      if (Date.now() > deadline) throw new Error(`owners never as expected: ${owners}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // Calls of 400 ms at 4 in flight keep the runs going for about half a minute, long enough for a
  // second serve to start and be given its share even on a loaded machine.
  await waitOwners((owners) => owners.every((o) => o === a.pid));
  t.pass('alone, serve A owns all four runs');
  const b = await farm.spawnServe();
  const owners = await waitOwners((o) => o.filter((x) => x === b.pid).length === 2);
  t.equal(owners.filter((o) => o === a.pid).length, 2, `after B joins, A keeps two and B has two (${owners})`);
  for (const runId of runIds) {
    const status = await farm.waitFor(runId, undefined, 120_000);
    t.equal(status.state, 'completed');
    t.equal(status.stages.documents!.done, status.stages['doc-ideas']!.items * 5, `${status.name}: every documents task committed once across the hand-over`);
    const exported = await farm.exportLines(runId, 'documents');
    t.equal(new Set(exported.map((d) => d.id)).size, exported.length, `${status.name}: none twice`);
  }
});
