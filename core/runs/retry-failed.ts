import type { Redis } from 'ioredis';
import { ConflictError } from '../errors.js';
import { farmKeys, runKeys } from '../keys.js';
import { taskJobId, taskJobOptions, type StageQueues } from '../queues.js';
import type { Stage } from '../stages.js';
import type { TaskInput } from '../task.js';
import type { RunStore } from './run-store.js';

export interface DeadLetter {
  id: string;
  stage: Stage;
  index: number;
  error: string;
  attempts: number;
  input: TaskInput;
}

/** Up to `limit` dead letters of a run (HSCAN pages, so a huge list never blocks Redis). */
export async function listDeadLetters(redis: Redis, prefix: string, runId: string, limit = 1000): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  let cursor = '0';
  do {
    const [next, entries] = await redis.hscan(runKeys(prefix, runId).deadLetters, cursor, 'COUNT', 1000);
    cursor = next;
    for (let i = 1; i < entries.length && letters.length < limit; i += 2) letters.push(JSON.parse(entries[i]!) as DeadLetter);
  } while (cursor !== '0' && letters.length < limit);
  return letters;
}

/**
 * The re-driven task is added with a short delay, before its done bit is cleared: a crash in
 * between leaves the dead letter in place and the re-run's result is dropped as a duplicate (the
 * user can re-drive again); a worker can never finish the task before the bit is cleared.
 */
const REDRIVE_DELAY_MS = 2000;

/** Re-enqueues every dead-lettered task of a run; a finished run goes back to running. */
export async function retryFailed(redis: Redis, prefix: string, runs: RunStore, queues: StageQueues, runId: string, attempts: number): Promise<number> {
  const run = await runs.get(runId);
  if (run.state === 'cancelled') throw new ConflictError(`run ${runId} is cancelled; its failed tasks cannot be retried`);
  const keys = runKeys(prefix, runId);
  const letters = await listDeadLetters(redis, prefix, runId, 100_000);
  for (const letter of letters) {
    const generation = await redis.hincrby(keys.redrives, `${letter.stage}:${letter.index}`, 1);
    await queues[letter.stage].add(
      letter.stage,
      { runId, stage: letter.stage, index: letter.index, input: letter.input },
      {
        jobId: taskJobId(runId, letter.stage, letter.index, generation),
        delay: REDRIVE_DELAY_MS,
        ...taskJobOptions(attempts),
      },
    );
    await redis
      .multi()
      .hdel(keys.deadLetters, `${letter.stage}:${letter.index}`)
      .setbit(keys.done(letter.stage), letter.index, 0)
      .hincrby(keys.inflight, letter.stage, 1)
      .hincrby(keys.stats, `${letter.stage}:failed`, -1)
      .hincrby(keys.stats, `${letter.stage}:done`, -1)
      .exec();
  }
  if (letters.length > 0 && run.state !== 'running' && run.state !== 'queued') {
    await redis.multi().hset(keys.meta, 'state', 'running').hdel(keys.meta, 'finishedAt', 'error').sadd(farmKeys(prefix).activeRuns, runId).exec();
  }
  return letters.length;
}
