import type { Redis, Result } from 'ioredis';
import { runKeys } from '../keys.js';
import type { Stage } from '../stages.js';
import { FINAL_STATES } from './run-state.js';

/**
 * The one writer of a run's progress: done bits, counters, committed file lengths, expansion
 * cursors and dead letters. Every transition is one Lua script, and every script the run's owner
 * calls is fenced by its lease token (RunLease), so a producer that lost the run (paused past its
 * lease, say) cannot write a byte of it. Nothing here is a counter of tasks in flight: that is
 * derived, `<stage>:enqueued` minus the done bits set, so it cannot drift.
 */

/** KEYS: owner, meta, offsets, stats. ARGV: token, offsets JSON, root stages JSON. → 1 started, 0 already, -1 fenced. */
const START = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('hsetnx', KEYS[2], 'initialized', '1') == 0 then return 0 end
for file, length in pairs(cjson.decode(ARGV[2])) do redis.call('hset', KEYS[3], file, length) end
for _, stage in ipairs(cjson.decode(ARGV[3])) do redis.call('hincrby', KEYS[4], stage .. ':enqueued', 1) end
return 1`;

/** KEYS: owner, cursors, stats. ARGV: token, source, cursor JSON, stage, count. → 1, or -1 fenced. */
const EXPANDED = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('hset', KEYS[2], ARGV[2], ARGV[3])
redis.call('hincrby', KEYS[3], ARGV[4] .. ':enqueued', tonumber(ARGV[5]))
return 1`;

/**
 * KEYS: owner, stats, offsets, dead, results, done bitmaps… ARGV: token, batch JSON
 * {b: [[bitmap#, index]], o: {file: length}, c: {field: n}, f: {field: x}, d: {field: json}, x: [stream ids]}.
 * Checks every bit before setting any (a script cannot roll back), so a batch commits whole or not at all.
 * → {1} committed, {-1} fenced, {-2, 'bitmap#:index'…} already done (nothing written).
 */
const COMMIT = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return {-1} end
local p = cjson.decode(ARGV[2])
local doubled = {-2}
for _, b in ipairs(p.b) do
  if redis.call('getbit', KEYS[5 + b[1]], b[2]) == 1 then doubled[#doubled + 1] = b[1] .. ':' .. b[2] end
end
if #doubled > 1 then return doubled end
for _, b in ipairs(p.b) do redis.call('setbit', KEYS[5 + b[1]], b[2], 1) end
for file, length in pairs(p.o) do redis.call('hset', KEYS[3], file, length) end
for field, n in pairs(p.c) do redis.call('hincrby', KEYS[2], field, n) end
for field, x in pairs(p.f) do redis.call('hincrbyfloat', KEYS[2], field, x) end
for field, letter in pairs(p.d) do redis.call('hset', KEYS[4], field, letter) end
for i = 1, #p.x, 500 do redis.call('xdel', KEYS[5], unpack(p.x, i, math.min(i + 499, #p.x))) end
return {1}`;

/**
 * Completes the run only if, at this instant, every stage's enqueued tasks are all done, every
 * source file is fully expanded and no result waits in the stream: a retry-failed that re-drives a
 * task between the owner's check and its move cannot be overtaken.
 * KEYS: owner, meta, stats, cursors, offsets, results, active set, done bitmaps…
 * ARGV: token, run id, finishedAt, stages JSON, sources JSON, final states…  → 1 completed, 0 not finished, -1 fenced, -2 already final.
 */
const COMPLETE = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local state = redis.call('hget', KEYS[2], 'state')
for i = 6, #ARGV do if state == ARGV[i] then return -2 end end
if redis.call('xlen', KEYS[6]) > 0 then return 0 end
local stages = cjson.decode(ARGV[4])
for i, stage in ipairs(stages) do
  local enqueued = tonumber(redis.call('hget', KEYS[3], stage .. ':enqueued') or '0')
  if redis.call('bitcount', KEYS[7 + i]) ~= enqueued then return 0 end
end
for _, source in ipairs(cjson.decode(ARGV[5])) do
  local cursor = redis.call('hget', KEYS[4], source)
  local offset = cursor and cjson.decode(cursor).offset or 0
  if offset < tonumber(redis.call('hget', KEYS[5], source) or '0') then return 0 end
end
redis.call('hset', KEYS[2], 'state', 'completed', 'finishedAt', ARGV[3])
redis.call('srem', KEYS[7], ARGV[2])
return 1`;

/**
 * Takes a dead letter back for a re-run: removes it, clears its done bit and counts it undone, in
 * one step, so two concurrent retry-failed calls re-drive each letter once.
 * KEYS: dead, done bitmap, stats, redrives. ARGV: `<stage>:<index>`, index, stage. → {generation, letter JSON} or nil.
 */
const REDRIVE = `
local letter = redis.call('hget', KEYS[1], ARGV[1])
if not letter then return nil end
redis.call('hdel', KEYS[1], ARGV[1])
redis.call('setbit', KEYS[2], ARGV[2], 0)
redis.call('hincrby', KEYS[3], ARGV[3] .. ':failed', -1)
redis.call('hincrby', KEYS[3], ARGV[3] .. ':done', -1)
return {redis.call('hincrby', KEYS[4], ARGV[1], 1), letter}`;

/**
 * Rewrites a run's counters, lengths and cursors after its files lost committed bytes, and clears
 * the done bits of the tasks whose output was lost, so they run again.
 * KEYS: owner, stats, offsets, cursors, done bitmaps… ARGV: token, JSON {del, set, o, cur, clear}. → 1, or -1 fenced.
 */
const REPAIR = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local p = cjson.decode(ARGV[2])
for _, field in ipairs(p.del) do redis.call('hdel', KEYS[2], field) end
for field, n in pairs(p.set) do redis.call('hset', KEYS[2], field, n) end
for file, length in pairs(p.o) do redis.call('hset', KEYS[3], file, length) end
for source, cursor in pairs(p.cur) do redis.call('hset', KEYS[4], source, cursor) end
for _, b in ipairs(p.clear) do redis.call('setbit', KEYS[4 + b[1]], b[2], 0) end
return 1`;

/** KEYS: redrives. ARGV: `<stage>:<index>`. → the next generation of a task's job id (a lost task is re-enqueued under it). */
const NEXT_GENERATION = `return redis.call('hincrby', KEYS[1], ARGV[1], 1)`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfLedgerStart(...args: (string | number)[]): Result<number, Context>;
    sdfLedgerExpanded(...args: (string | number)[]): Result<number, Context>;
    sdfLedgerCommit(...args: (string | number)[]): Result<(number | string)[], Context>;
    sdfLedgerComplete(...args: (string | number)[]): Result<number, Context>;
    sdfLedgerRedrive(...args: (string | number)[]): Result<[number, string] | null, Context>;
    sdfLedgerNextGeneration(...args: (string | number)[]): Result<number, Context>;
    sdfLedgerRepair(...args: (string | number)[]): Result<number, Context>;
  }
}

/** Registers the scripts on a connection once; ioredis then calls them by SHA. */
function defineScripts(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).sdfLedgerCommit === 'function') return;
  redis.defineCommand('sdfLedgerStart', { lua: START, numberOfKeys: 4 });
  redis.defineCommand('sdfLedgerExpanded', { lua: EXPANDED, numberOfKeys: 3 });
  redis.defineCommand('sdfLedgerCommit', { lua: COMMIT });
  redis.defineCommand('sdfLedgerComplete', { lua: COMPLETE });
  redis.defineCommand('sdfLedgerRedrive', { lua: REDRIVE, numberOfKeys: 4 });
  redis.defineCommand('sdfLedgerNextGeneration', { lua: NEXT_GENERATION, numberOfKeys: 1 });
  redis.defineCommand('sdfLedgerRepair', { lua: REPAIR });
}

/** What a repair rewrites (see REPAIR). */
export interface RepairPlan {
  deleteCounters: string[];
  setCounters: Record<string, number>;
  offsets: Record<string, number>;
  cursors: Record<string, string>;
  clear: { stage: Stage; index: number }[];
}

/** The run's owner lost its lease: stop writing this run at once. */
export class FencedError extends Error {
  override name = 'FencedError';
  constructor(readonly runId: string) {
    super(`run ${runId}: this producer no longer owns the run (its lease was taken or expired)`);
  }
}

/** One commit: done bits to set and everything that changes with them. */
export interface CommitBatch {
  /** Tasks whose result this batch commits. */
  done: { stage: Stage; index: number }[];
  /** New committed length of each file written. */
  offsets: Record<string, number>;
  counters: Record<string, number>;
  floatCounters: Record<string, number>;
  /** Dead letters `<stage>:<index>` → JSON. */
  deadLetters: Record<string, string>;
  /** Stream entries consumed by this batch (committed, duplicates and usage reports alike). */
  consumed: string[];
}

export type CommitOutcome = { ok: true } | { ok: false; alreadyDone: { stage: Stage; index: number }[] };

export class RunLedger {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    defineScripts(redis);
  }

  /** Records seeds' lengths and root tasks once. */
  async start(runId: string, token: string, offsets: Record<string, number>, roots: Stage[]): Promise<boolean> {
    const k = runKeys(this.prefix, runId);
    const started = await this.redis.sdfLedgerStart(k.owner, k.meta, k.offsets, k.stats, token, JSON.stringify(offsets), JSON.stringify(roots));
    if (started === -1) throw new FencedError(runId);
    return started === 1;
  }

  async isStarted(runId: string): Promise<boolean> {
    return (await this.redis.hget(runKeys(this.prefix, runId).meta, 'initialized')) === '1';
  }

  /** Moves a source's cursor after its tasks were added to the queue. */
  async expanded(runId: string, token: string, stage: Stage, source: string, cursor: unknown, count: number): Promise<void> {
    const k = runKeys(this.prefix, runId);
    if ((await this.redis.sdfLedgerExpanded(k.owner, k.cursors, k.stats, token, source, JSON.stringify(cursor), stage, count)) === -1) throw new FencedError(runId);
  }

  async commit(runId: string, token: string, batch: CommitBatch): Promise<CommitOutcome> {
    const k = runKeys(this.prefix, runId);
    const stages = [...new Set(batch.done.map((d) => d.stage))];
    const payload = {
      b: batch.done.map((d) => [stages.indexOf(d.stage) + 1, d.index]),
      o: batch.offsets,
      c: batch.counters,
      f: batch.floatCounters,
      d: batch.deadLetters,
      x: batch.consumed,
    };
    // cjson turns an empty JSON object into an empty array and back; either iterates as nothing.
    const reply = await this.redis.sdfLedgerCommit(5 + stages.length, k.owner, k.stats, k.offsets, k.deadLetters, k.results, ...stages.map((s) => k.done(s)), token, JSON.stringify(payload));
    const code = Number(reply[0]);
    if (code === -1) throw new FencedError(runId);
    if (code === 1) return { ok: true };
    return {
      ok: false,
      alreadyDone: reply.slice(1).map((entry) => {
        const [bitmap, index] = String(entry).split(':');
        return { stage: stages[Number(bitmap) - 1]!, index: Number(index) };
      }),
    };
  }

  /** The run's state and which of these tasks are committed already, in one round trip. */
  async stateAndDoneBits(runId: string, tasks: { stage: Stage; index: number }[]): Promise<{ state: string | undefined; bits: boolean[] }> {
    const k = runKeys(this.prefix, runId);
    const pipeline = this.redis.pipeline();
    pipeline.hget(k.meta, 'state');
    for (const t of tasks) pipeline.getbit(k.done(t.stage), t.index);
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    return { state: (replies[0]?.[1] as string | null) ?? undefined, bits: replies.slice(1).map(([, bit]) => bit === 1) };
  }

  /** Tasks enqueued and not yet committed, per stage: derived from the counters and the done bits. */
  async inflight(runId: string, stages: readonly Stage[]): Promise<Record<string, number>> {
    return (await this.stateAndInflight(runId, stages)).inflight;
  }

  /** The run's state and its in-flight tasks per stage, in one round trip. */
  async stateAndInflight(runId: string, stages: readonly Stage[]): Promise<{ state: string | undefined; inflight: Record<string, number> }> {
    const k = runKeys(this.prefix, runId);
    const pipeline = this.redis.pipeline();
    pipeline.hget(k.meta, 'state');
    pipeline.hmget(k.stats, ...stages.map((s) => `${s}:enqueued`));
    for (const s of stages) pipeline.bitcount(k.done(s));
    const replies = (await pipeline.exec()) ?? [];
    for (const [err] of replies) if (err) throw err;
    const enqueued = (replies[1]?.[1] ?? []) as (string | null)[];
    return {
      state: (replies[0]?.[1] as string | null) ?? undefined,
      inflight: Object.fromEntries(stages.map((s, i) => [s, Number(enqueued[i] ?? 0) - Number(replies[i + 2]?.[1] ?? 0)])),
    };
  }

  /** Completes the run if everything is committed at this instant. */
  async complete(runId: string, token: string, stages: readonly Stage[], sources: readonly string[]): Promise<'completed' | 'not-finished' | 'already-final'> {
    const k = runKeys(this.prefix, runId);
    const active = `${this.prefix}:runs:active`;
    const moved = await this.redis.sdfLedgerComplete(
      7 + stages.length,
      k.owner,
      k.meta,
      k.stats,
      k.cursors,
      k.offsets,
      k.results,
      active,
      ...stages.map((s) => k.done(s)),
      token,
      runId,
      new Date().toISOString(),
      JSON.stringify(stages),
      JSON.stringify(sources),
      ...FINAL_STATES,
    );
    if (moved === -1) throw new FencedError(runId);
    return moved === 1 ? 'completed' : moved === -2 ? 'already-final' : 'not-finished';
  }

  async repair(runId: string, token: string, plan: RepairPlan, stages: readonly Stage[]): Promise<void> {
    const k = runKeys(this.prefix, runId);
    const payload = {
      del: plan.deleteCounters,
      set: plan.setCounters,
      o: plan.offsets,
      cur: plan.cursors,
      clear: plan.clear.map((t) => [stages.indexOf(t.stage) + 1, t.index]),
    };
    const done = await this.redis.sdfLedgerRepair(4 + stages.length, k.owner, k.stats, k.offsets, k.cursors, ...stages.map((s) => k.done(s)), token, JSON.stringify(payload));
    if (done === -1) throw new FencedError(runId);
  }

  /** Takes a dead letter back for a re-run; undefined when another call took it first. */
  async redrive(runId: string, stage: Stage, index: number): Promise<{ generation: number; letter: string } | undefined> {
    const k = runKeys(this.prefix, runId);
    const reply = await this.redis.sdfLedgerRedrive(k.deadLetters, k.done(stage), k.stats, k.redrives, `${stage}:${index}`, index, stage);
    return reply ? { generation: Number(reply[0]), letter: String(reply[1]) } : undefined;
  }

  /** The job-id generation a task is currently enqueued under (0 = never re-driven). */
  async generations(runId: string, stage: Stage, indices: number[]): Promise<number[]> {
    if (indices.length === 0) return [];
    const values = await this.redis.hmget(runKeys(this.prefix, runId).redrives, ...indices.map((i) => `${stage}:${i}`));
    return values.map((v) => Number(v ?? 0));
  }

  async nextGeneration(runId: string, stage: Stage, index: number): Promise<number> {
    return this.redis.sdfLedgerNextGeneration(runKeys(this.prefix, runId).redrives, `${stage}:${index}`);
  }

  /** Indices in [from, below) whose done bit is clear, at most `limit` of them (one BITPOS each). */
  async undone(runId: string, stage: Stage, from: number, below: number, limit: number): Promise<number[]> {
    const key = runKeys(this.prefix, runId).done(stage);
    const found: number[] = [];
    for (let at = from; found.length < limit && at < below; ) {
      let pos = Number(await this.redis.call('bitpos', key, '0', String(at), '-1', 'BIT'));
      // -1: every bit from `at` to the end of the string is set; bits past the string are clear.
      // (A missing key answers 0 whatever `at` is: every bit is clear.)
      if (pos === -1) pos = (await this.redis.strlen(key)) * 8;
      pos = Math.max(pos, at);
      if (pos >= below) break;
      found.push(pos);
      at = pos + 1;
    }
    return found;
  }
}
