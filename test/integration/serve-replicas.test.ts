import type { ChildProcess } from 'node:child_process';
import { createRedis } from '../../core/redis.js';
import t, { type Test } from 'tap';
import { runKeys } from '../../core/keys.js';
import { startTestFarm, type TestFarm } from '../helpers/farm.js';
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

/** Which serve process (by pid, from the lease token `<pid base 36>-…`) owns each run. */
function runOwners(t: Test, prefix: string, runIds: string[]) {
  const redis = createRedis(TEST_REDIS_URL);
  t.teardown(() => redis.disconnect());
  const ownerPid = async (runId: string) => {
    const token = await redis.get(runKeys(prefix, runId).owner);
    return token ? parseInt(token.split('-')[0]!, 36) : undefined;
  };
  const now = () => Promise.all(runIds.map(ownerPid));
  return {
    now,
    /** Polls until `check` holds of the owners, for up to 20 s. */
    async waitFor(check: (owners: (number | undefined)[]) => boolean): Promise<(number | undefined)[]> {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const owners = await now();
        if (check(owners)) return owners;
        if (Date.now() > deadline) throw new Error(`owners never as expected: ${owners}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Every run completed with each documents task committed once and no document exported twice. */
async function assertEachCompletedOnce(t: Test, farm: TestFarm, runIds: string[]): Promise<void> {
  for (const runId of runIds) {
    const status = await farm.waitFor(runId, undefined, 120_000);
    t.equal(status.state, 'completed', `${status.name} completed`);
    const docs = status.stages.documents!;
    t.equal(docs.done, status.stages['doc-ideas']!.items * 5, `${status.name}: every documents task committed once`);
    const exported = await farm.exportLines(runId, 'documents');
    t.equal(exported.length, docs.accepted, `${status.name}: the export holds every accepted document`);
    t.equal(new Set(exported.map((d) => d.id)).size, exported.length, `${status.name}: none twice`);
  }
}

t.test('two serve replicas share the runs, one owner each; when one dies its runs move to the other and all complete', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '2000' }, sim: { latencyMs: 60, jitterMs: 20 } });
  const a = await farm.spawnServe();
  const b = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++) runIds.push(await farm.submit(spec(i)));
  const owners = runOwners(t, farm.config.prefix, runIds);

  // Each replica takes its fair share: ceil(4 runs / 2 live replicas) = 2.
  const owned = await owners.waitFor((o) => o.every((x) => x !== undefined));
  t.equal(owned.filter((o) => o === a.pid).length, 2, `serve A owns two runs (owners ${owned}, A ${a.pid}, B ${b.pid})`);
  t.equal(owned.filter((o) => o === b.pid).length, 2, 'serve B owns the other two');

  a.kill('SIGKILL');
  await exited(a);
  await assertEachCompletedOnce(t, farm, runIds);
  t.ok((await owners.now()).every((o) => o === undefined), 'finished runs have no owner');
});

t.test('a replica that joins later gets its share: the first gives runs back', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '2000' }, sim: { latencyMs: 400, jitterMs: 20 } });
  const a = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '4' });
  const runIds: string[] = [];
  for (let i = 0; i < 4; i++) runIds.push(await farm.submit(spec(i)));
  const owners = runOwners(t, farm.config.prefix, runIds);
  // Calls of 400 ms at 4 in flight keep the runs going for about half a minute, long enough for a
  // second serve to start and be given its share even on a loaded machine.
  await owners.waitFor((o) => o.every((x) => x === a.pid));
  t.pass('alone, serve A owns all four runs');
  const b = await farm.spawnServe();
  const shared = await owners.waitFor((o) => o.filter((x) => x === b.pid).length === 2);
  t.equal(shared.filter((o) => o === a.pid).length, 2, `after B joins, A keeps two and B has two (${shared})`);
  await assertEachCompletedOnce(t, farm, runIds);
});
