import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { runKeys } from '../keys.js';
import { taskJobId, type StageQueues } from '../queues.js';
import { STAGES } from '../stages.js';
import { cancelRun } from './cancel-run.js';
import { isFinal } from './run-state.js';
import { RunLedger } from './run-ledger.js';
import { runKeysInRedis } from './run-retention.js';
import type { RunStore } from './run-store.js';

export interface DeleteRunDeps {
  redis: Redis;
  prefix: string;
  runs: RunStore;
  queues: StageQueues;
  dataDir: string;
  /** How long to wait for the run's owner to let it go after a cancel (its lease TTL). */
  leaseTtlMs: number;
}

/**
 * Deletes a run: its Redis state (record, counters, done bits, corpus statistics, the
 * near-duplicate index, dead letters, its jobs) and its files. An active run is cancelled first
 * and its owner given until its lease runs out to let it go, so no producer writes to the run
 * while it is removed (a producer that still tries is refused by its fencing token, which goes
 * with the run's keys). Tasks a worker was running at that moment finish into nothing: their
 * results stream is swept again a little later.
 */
export async function deleteRun(deps: DeleteRunDeps, runId: string): Promise<{ keys: number; jobs: number }> {
  const { redis, prefix, runs, queues } = deps;
  const run = await runs.get(runId);
  const k = runKeys(prefix, runId);
  if (!isFinal(run.state)) {
    await cancelRun(runs, queues, runId);
    const deadline = Date.now() + deps.leaseTtlMs + 1000;
    while ((await redis.exists(k.owner)) === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  const jobs = await removeRunJobs(redis, prefix, queues, runId);
  const keys = await runKeysInRedis(redis, prefix, runId);
  const idemKey = (await redis.hget(k.meta, 'idemKey')) ?? undefined;
  if (keys.length > 0) await redis.unlink(...keys);
  await runs.forget(runId, idemKey);
  await rm(join(deps.dataDir, runId), { recursive: true, force: true });
  // A worker that was mid-task at the cancel publishes into a stream that no longer exists.
  setTimeout(() => void redis.unlink(k.results).catch(() => {}), 5_000).unref();
  return { keys: keys.length, jobs };
}

/** Removes the run's jobs in every state: its undone tasks' ids are known from the ledger. */
async function removeRunJobs(redis: Redis, prefix: string, queues: StageQueues, runId: string): Promise<number> {
  const ledger = new RunLedger(redis, prefix);
  const enqueued = await redis.hmget(runKeys(prefix, runId).stats, ...STAGES.map((s) => `${s}:enqueued`));
  let removed = 0;
  for (const [i, stage] of STAGES.entries()) {
    const indices = await ledger.undone(runId, stage, 0, Number(enqueued[i] ?? 0), 1_000_000);
    const generations = await ledger.generations(runId, stage, indices);
    for (const [j, index] of indices.entries()) {
      for (let g = 0; g <= generations[j]!; g++) removed += await queues[stage].remove(taskJobId(runId, stage, index, g));
    }
    // Failed jobs keep their ids after their done bit is set (dead letters): look for them too.
    for (const job of await queues[stage].getFailed(0, 999)) {
      if ((job?.data as { runId?: string } | undefined)?.runId === runId) removed += await queues[stage].remove(job.id!);
    }
  }
  return removed;
}
