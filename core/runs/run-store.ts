import { randomBytes, createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ConflictError, NotFoundError } from '../errors.js';
import { farmKeys, runKeys } from '../keys.js';
import type { RunSpec } from '../spec/run-spec-schema.js';
import { FINAL_STATES, type RunState } from './run-state.js';

export interface RunMeta {
  id: string;
  name: string;
  state: RunState;
  spec: RunSpec;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  /** Set when a model's quota stops the run's work (e.g. the daily quota is spent). */
  quota?: string;
}

/** KEYS: meta, active set. ARGV: id, state, finishedAt, error, final states… Returns 1 moved, 0 already final, -1 no such run. */
const FINISH = `
local current = redis.call('hget', KEYS[1], 'state')
if not current then return -1 end
for i = 5, #ARGV do if current == ARGV[i] then return 0 end end
redis.call('hset', KEYS[1], 'state', ARGV[2], 'finishedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('hset', KEYS[1], 'error', ARGV[4]) end
redis.call('srem', KEYS[2], ARGV[1])
return 1`;

/** KEYS: meta. ARGV: startedAt. → 1 moved to running, 0 not queued (left as it is). */
const MARK_RUNNING = `
if redis.call('hget', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('hset', KEYS[1], 'state', 'running', 'startedAt', ARGV[1])
return 1`;

/**
 * Creates a run and claims its idempotency key in one step, so a crash can never leave a key
 * that names a run which does not exist. A key whose run is gone (deleted) is claimed afresh.
 * KEYS: meta, runs index, active set, idempotency key (or '').
 * ARGV: id, body hash, key TTL s, score, run-key prefix (`<prefix>:run:`), then the meta fields
 * as name/value pairs. → {1, id} created, or {0, existing id, existing hash} when the key was used before.
 */
const CREATE = `
if KEYS[4] ~= '' then
  local existing = redis.call('get', KEYS[4])
  if existing then
    local id, hash = string.match(existing, '^(%S+) (%S+)$')
    if id and redis.call('exists', ARGV[5] .. id) == 1 then return {0, id, hash} end
  end
  redis.call('set', KEYS[4], ARGV[1] .. ' ' .. ARGV[2], 'EX', ARGV[3])
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('hset', KEYS[1], unpack(fields))
redis.call('zadd', KEYS[2], ARGV[4], ARGV[1])
redis.call('sadd', KEYS[3], ARGV[1])
return {1, ARGV[1]}`;

const SUMMARY_FIELDS = ['id', 'name', 'state', 'createdAt', 'startedAt', 'finishedAt', 'error', 'quota'] as const;

export type RunSummary = Omit<RunMeta, 'spec'>;

/** Sortable, unique, URL-safe: creation time then randomness. */
export function newRunId(now = Date.now()): string {
  return `run_${now.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

/**
 * Run records in Redis: the metadata hash, the run index, the active set the producer drives,
 * and idempotency keys. Shared by the API (create, read, cancel) and the producer (state moves).
 */
export class RunStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  async create(spec: RunSpec, idempotencyKey?: string): Promise<{ run: RunMeta; created: boolean }> {
    const farm = farmKeys(this.prefix);
    const id = newRunId();
    const bodyHash = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
    const run: RunMeta = { id, name: spec.name ?? 'run', state: 'queued', spec, createdAt: new Date().toISOString() };
    const idemKey = idempotencyKey ? farm.idempotency(idempotencyKey) : '';
    const fields = { id, name: run.name, state: run.state, spec: JSON.stringify(spec), createdAt: run.createdAt, ...(idemKey ? { idemKey } : {}) };
    const reply = (await this.redis.eval(CREATE, 4, runKeys(this.prefix, id).meta, farm.runs, farm.activeRuns, idemKey, id, bodyHash, 7 * 86400, Date.now(), runKeys(this.prefix, '').meta, ...Object.entries(fields).flat())) as [number, string, string?];
    if (reply[0] === 1) return { run, created: true };
    // Two identical submissions racing get one run; the same key with another body is refused.
    if (reply[2] !== bodyHash) throw new ConflictError(`Idempotency-Key "${idempotencyKey}" was used with a different body`);
    return { run: await this.get(reply[1]), created: false };
  }

  async find(id: string): Promise<RunMeta | undefined> {
    const [summary, spec] = await Promise.all([this.summary(id), this.redis.hget(runKeys(this.prefix, id).meta, 'spec')]);
    return summary && { ...summary, spec: JSON.parse(spec ?? '{}') as RunSpec };
  }

  /** The run's record without its spec: what status and lists need, without reading or parsing the spec. */
  async summary(id: string): Promise<RunSummary | undefined> {
    const values = await this.redis.hmget(runKeys(this.prefix, id).meta, ...SUMMARY_FIELDS);
    const hash = Object.fromEntries(SUMMARY_FIELDS.map((field, i) => [field, values[i]])) as Record<(typeof SUMMARY_FIELDS)[number], string | null>;
    if (!hash.id) return undefined;
    return {
      id: hash.id,
      name: hash.name ?? 'run',
      state: (hash.state ?? 'queued') as RunState,
      createdAt: hash.createdAt ?? '',
      ...(hash.startedAt ? { startedAt: hash.startedAt } : {}),
      ...(hash.finishedAt ? { finishedAt: hash.finishedAt } : {}),
      ...(hash.error ? { error: hash.error } : {}),
      ...(hash.quota ? { quota: hash.quota } : {}),
    };
  }

  async getSummary(id: string): Promise<RunSummary> {
    const run = await this.summary(id);
    if (!run) throw new NotFoundError(`run ${id} not found`);
    return run;
  }

  async get(id: string): Promise<RunMeta> {
    const run = await this.find(id);
    if (!run) throw new NotFoundError(`run ${id} not found`);
    return run;
  }

  async state(id: string): Promise<RunState | undefined> {
    return ((await this.redis.hget(runKeys(this.prefix, id).meta, 'state')) ?? undefined) as RunState | undefined;
  }

  /** Newest first. */
  async list(limit = 100, offset = 0): Promise<string[]> {
    return this.redis.zrevrange(farmKeys(this.prefix).runs, offset, offset + limit - 1);
  }

  async activeRunIds(): Promise<string[]> {
    return this.redis.smembers(farmKeys(this.prefix).activeRuns);
  }

  /**
   * queued → running, only from queued: a cancel that lands while the run is being started must
   * not be overwritten (the run would read `running` while out of the active set, driven by no one).
   */
  async markRunning(id: string): Promise<boolean> {
    return (await this.redis.eval(MARK_RUNNING, 1, runKeys(this.prefix, id).meta, new Date().toISOString())) === 1;
  }

  /** Moves a run to a final state once; a run already final keeps its state. Returns whether it moved. */
  async finish(id: string, state: Extract<RunState, 'completed' | 'cancelled' | 'failed'>, error?: string): Promise<boolean> {
    // Check and move in one script: a cancel and the producer's completion can race, and only one may win.
    const moved = (await this.redis.eval(FINISH, 2, runKeys(this.prefix, id).meta, farmKeys(this.prefix).activeRuns, id, state, new Date().toISOString(), error ?? '', ...FINAL_STATES)) as number;
    if (moved === -1) throw new NotFoundError(`run ${id} not found`);
    return moved === 1;
  }

  async stats(id: string): Promise<Record<string, number>> {
    const raw = await this.redis.hgetall(runKeys(this.prefix, id).stats);
    return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Number(v)]));
  }

  /** Removes the run's record from the index and active set (its keys are deleted by deleteRun). */
  async forget(id: string, idemKey: string | undefined): Promise<void> {
    const farm = farmKeys(this.prefix);
    const tx = this.redis.multi().zrem(farm.runs, id).srem(farm.activeRuns, id);
    if (idemKey) tx.eval(`if string.find(redis.call('get', KEYS[1]) or '', ARGV[1] .. ' ', 1, true) == 1 then return redis.call('del', KEYS[1]) end return 0`, 1, idemKey, id);
    await tx.exec();
  }

  async countByState(): Promise<Record<RunState, number>> {
    const counts: Record<RunState, number> = { queued: 0, running: 0, completed: 0, cancelled: 0, failed: 0, budget_exhausted: 0 };
    const ids = await this.list(10_000);
    const pipeline = this.redis.pipeline();
    for (const id of ids) pipeline.hget(runKeys(this.prefix, id).meta, 'state');
    for (const [, state] of (await pipeline.exec()) ?? []) {
      if (typeof state === 'string' && state in counts) counts[state as RunState]++;
    }
    return counts;
  }
}
