import type { Redis } from 'ioredis';
import { ConflictError } from '../errors.js';
import { farmKeys, runKeys } from '../keys.js';
import { taskJobId, taskJobOptions, type StageQueues } from '../queues.js';
import type { Stage } from '../stages.js';
import type { TaskInput } from '../task.js';
import { RunLedger } from './run-ledger.js';
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

const REDRIVE_DELAY_MS = 1500;

/** KEYS: meta, active set. ARGV: run id. Puts a finished (not cancelled) run back to running. → 1 reopened, 0 already active, -1 cancelled, -2 no such run. */
const REOPEN = `
local state = redis.call('hget', KEYS[1], 'state')
if not state then return -2 end
if state == 'cancelled' then return -1 end
redis.call('sadd', KEYS[2], ARGV[1])
-- A run its budget stopped stays stopped: its re-driven tasks are parked with the rest.
if state == 'running' or state == 'queued' or state == 'budget_exhausted' then return 0 end
redis.call('hset', KEYS[1], 'state', 'running')
redis.call('hdel', KEYS[1], 'finishedAt', 'error')
return 1`;

/**
 * Re-enqueues every dead-lettered task of a run. The run is put back to running first, so no
 * re-driven task can find it finished and skip itself; then each letter is claimed by one ledger
 * step (two concurrent calls re-drive each letter once) and its task added under a new job id.
 * A crash between a claim and its add leaves an undone task without a job, which the run's
 * reconciler enqueues again.
 */
export async function retryFailed(redis: Redis, prefix: string, runs: RunStore, queues: StageQueues, runId: string, attempts: number): Promise<number> {
  const keys = runKeys(prefix, runId);
  const letters = await listDeadLetters(redis, prefix, runId, 100_000);
  if (letters.length === 0) {
    if ((await runs.get(runId)).state === 'cancelled') throw new ConflictError(`run ${runId} is cancelled; its failed tasks cannot be retried`);
    return 0;
  }
  const reopened = Number(await redis.eval(REOPEN, 2, keys.meta, farmKeys(prefix).activeRuns, runId));
  if (reopened === -2) await runs.get(runId);
  if (reopened === -1) throw new ConflictError(`run ${runId} is cancelled; its failed tasks cannot be retried`);
  const ledger = new RunLedger(redis, prefix);
  let retried = 0;
  for (const letter of letters) {
    const claimed = await ledger.redrive(runId, letter.stage, letter.index);
    if (!claimed) continue;
    await queues[letter.stage].add(
      letter.stage,
      { runId, stage: letter.stage, index: letter.index, input: letter.input },
      // Delayed past a worker's cached run state (1 s), so none sees the run as still finished.
      { jobId: taskJobId(runId, letter.stage, letter.index, claimed.generation), delay: REDRIVE_DELAY_MS, ...taskJobOptions(attempts) },
    );
    retried++;
  }
  return retried;
}
