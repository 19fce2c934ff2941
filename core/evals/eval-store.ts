import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { NotFoundError } from '../errors.js';
import { evalFarmKeys, evalKeys } from '../keys.js';
import type { ResolvedEvalSpec } from './eval-spec.js';
import type { CallUsage, EvalReport } from './eval-report.js';

export type { CallUsage };

export const EVAL_STATES = ['queued', 'running', 'completed', 'cancelled', 'failed'] as const;
export type EvalState = (typeof EVAL_STATES)[number];
export const ENDED_EVAL_STATES: readonly EvalState[] = ['completed', 'cancelled', 'failed'];

export interface EvalRecord {
  id: string;
  name: string;
  state: EvalState;
  spec: ResolvedEvalSpec;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  report?: EvalReport;
}

export function newEvalId(now = Date.now()): string {
  return `eval_${now.toString(36).padStart(9, '0')}${randomBytes(5).toString('hex')}`;
}

// A state moves only from one of the listed states (a cancel that lands first is never overwritten).
const TRANSITION = `
local state = redis.call('hget', KEYS[1], 'state')
if not state then return -1 end
for i = 4, #ARGV do if ARGV[i] == state then
  redis.call('hset', KEYS[1], 'state', ARGV[1], ARGV[2], ARGV[3])
  return 1
end end
return 0`;

// The owner's writes, checked against its lease in the same script: a serve that lost the eval writes nothing.
const FENCED_HSET = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 3 do redis.call('hset', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2]) end
return 1`;

/**
 * Eval records in Redis. Who writes what: the API creates and cancels; the eval's owner (a serve
 * holding its lease) moves its state, records the probe tasks and the held-out probes, and the
 * report; workers set each draft, answer, verdict and failure once (HSETNX), never anything else.
 */
export class EvalStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {}

  keys(id: string) {
    return evalKeys(this.prefix, id);
  }

  async create(spec: ResolvedEvalSpec): Promise<EvalRecord> {
    const id = newEvalId();
    const record: EvalRecord = { id, name: spec.name ?? 'eval', state: 'queued', spec, createdAt: new Date().toISOString() };
    const farm = evalFarmKeys(this.prefix);
    await this.redis
      .multi()
      .hset(this.keys(id).meta, { id, name: record.name, state: record.state, spec: JSON.stringify(spec), createdAt: record.createdAt })
      .zadd(farm.evals, Date.now(), id)
      .sadd(farm.active, id)
      .exec();
    return record;
  }

  async find(id: string): Promise<EvalRecord | undefined> {
    const hash = await this.redis.hgetall(this.keys(id).meta);
    if (!hash.id) return undefined;
    return {
      id: hash.id,
      name: hash.name ?? 'eval',
      state: (hash.state ?? 'queued') as EvalState,
      spec: JSON.parse(hash.spec ?? '{}') as ResolvedEvalSpec,
      createdAt: hash.createdAt ?? '',
      ...(hash.startedAt ? { startedAt: hash.startedAt } : {}),
      ...(hash.finishedAt ? { finishedAt: hash.finishedAt } : {}),
      ...(hash.error ? { error: hash.error } : {}),
      ...(hash.report ? { report: JSON.parse(hash.report) as EvalReport } : {}),
    };
  }

  async get(id: string): Promise<EvalRecord> {
    const record = await this.find(id);
    if (!record) throw new NotFoundError(`eval ${id} not found`);
    return record;
  }

  async state(id: string): Promise<EvalState | undefined> {
    return ((await this.redis.hget(this.keys(id).meta, 'state')) ?? undefined) as EvalState | undefined;
  }

  async list(limit: number, offset: number): Promise<string[]> {
    return this.redis.zrevrange(evalFarmKeys(this.prefix).evals, offset, offset + limit - 1);
  }

  async active(): Promise<string[]> {
    return this.redis.smembers(evalFarmKeys(this.prefix).active);
  }

  /** Moves the eval to `to` if it is in one of `from`; an ended state also leaves the active set. */
  async transition(id: string, from: readonly EvalState[], to: EvalState, fields: Record<string, string> = {}): Promise<boolean> {
    const stamp = to === 'running' ? 'startedAt' : 'finishedAt';
    const extra = Object.entries({ ...fields }).flat();
    const moved = (await this.redis.eval(TRANSITION, 1, this.keys(id).meta, to, stamp, new Date().toISOString(), ...from)) === 1;
    if (moved && extra.length > 0) await this.redis.hset(this.keys(id).meta, ...extra);
    if (moved && ENDED_EVAL_STATES.includes(to)) await this.redis.srem(evalFarmKeys(this.prefix).active, id);
    return moved;
  }

  /** The owner's writes `[key, field, value]`, made only while `token` holds the eval's lease. */
  async fencedSet(id: string, token: string, writes: [key: string, field: string, value: string][]): Promise<boolean> {
    if (writes.length === 0) return true;
    const keys = [this.keys(id).owner];
    const args: string[] = [token];
    for (const [key, field, value] of writes) {
      let at = keys.indexOf(key);
      if (at === -1) at = keys.push(key) - 1;
      args.push(String(at + 1), field, value);
    }
    return (await this.redis.eval(FENCED_HSET, keys.length, ...keys, ...args)) === 1;
  }

  /** A worker's result, set once: false when it was already there (a retried task). */
  async putOnce(key: string, field: string, value: unknown): Promise<boolean> {
    return (await this.redis.hsetnx(key, field, JSON.stringify(value))) === 1;
  }

  async readHash<T>(key: string): Promise<Map<string, T>> {
    const hash = await this.redis.hgetall(key);
    return new Map(Object.entries(hash).map(([field, value]) => [field, JSON.parse(value) as T]));
  }
}
