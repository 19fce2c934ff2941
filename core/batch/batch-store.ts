import type { Redis, Result } from 'ioredis';
import { batchKeys, runKeys } from '../keys.js';
import type { BudgetHold } from '../budget/budget-ledger.js';
import { FencedError } from '../runs/run-ledger.js';
import { isStage, type Stage } from '../stages.js';
import { ANSWER, ANSWER_ONLINE, ASK, FINISH, FORGET, FORM, SET_RECORD } from './batch-scripts.js';

/**
 * A run's Batch API state in Redis, and the one module that writes it (the scripts are in
 * batch-scripts.ts). Workers ask for answers and add requests (`ask`), and store the answers of
 * requests they re-drove online (`answerOnline`); the run's owner forms batches, records them,
 * writes their results and ends them, fenced by its lease token.
 *
 * Bounded by the run's window, not its size: a request exists from its task's first ask until its
 * task is committed (`forget`), so there are about as many as tasks in flight; a batch's record
 * and member list go when it is consumed, leaving a count per final state.
 */

/** What a request's task is told: the model's answer, or the error it got inside a batch. */
export type BatchAnswer = { text: string; finishReason: string } | { error: { code: number | string; message: string } };

/** The Gemini request of a batch-mode call, in Gemini's own shape (the model aside). */
export interface BatchRequestBody {
  contents: unknown;
  systemInstruction?: string;
  generationConfig: Record<string, unknown>;
}

export interface BatchRecord {
  seq: number;
  model: string;
  /** Deterministic (`<prefix>/<run>/<seq>`): how a new owner finds the batch if it reached Gemini. */
  displayName: string;
  /** Requests put in it. */
  count: number;
  createdAt: number;
  /** `submitting`: recorded, maybe not yet at Gemini; `submitted`: Gemini holds it as `name`. */
  state: 'submitting' | 'submitted';
  name?: string;
  /** The uploaded JSONL input, once uploaded (kept so a retried submission does not upload again). */
  inputFile?: string;
  /** Gemini's state at the last poll (JOB_STATE_*). */
  remoteState?: string;
  polls: number;
  nextPollAt: number;
}

/** One result of a finished batch, ready to store. */
export interface BatchResultItem {
  key: string;
  stage: Stage;
  answer: BatchAnswer;
  tokens: { promptTokens: number; cachedTokens: number; outputTokens: number; thoughtsTokens: number };
  /** At the batch price; 0 when the model has no price (then `unpriced`). */
  costUsd: number;
  unpriced: boolean;
}

/** A task whose job waits in its stage queue's delayed set for an answer that is now there. */
export interface Wake {
  stage: Stage;
  jobId: string;
}

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfBatchAsk(...args: (string | number)[]): Result<string | number, Context>;
    sdfBatchAnswerOnline(...args: (string | number)[]): Result<number, Context>;
    sdfBatchForm(...args: (string | number)[]): Result<number, Context>;
    sdfBatchSetRecord(...args: (string | number)[]): Result<number, Context>;
    sdfBatchAnswer(...args: (string | number)[]): Result<[string[], number[], string[]] | [] | number, Context>;
    sdfBatchFinish(...args: (string | number)[]): Result<[number, string[], number, number, string[]] | number, Context>;
    sdfBatchForget(...args: (string | number)[]): Result<[number, string[]], Context>;
  }
}

function defineScripts(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).sdfBatchAsk === 'function') return;
  redis.defineCommand('sdfBatchAsk', { lua: ASK, numberOfKeys: 6 });
  redis.defineCommand('sdfBatchAnswerOnline', { lua: ANSWER_ONLINE, numberOfKeys: 3 });
  redis.defineCommand('sdfBatchForm', { lua: FORM, numberOfKeys: 6 });
  redis.defineCommand('sdfBatchSetRecord', { lua: SET_RECORD, numberOfKeys: 2 });
  redis.defineCommand('sdfBatchAnswer', { lua: ANSWER, numberOfKeys: 7 });
  redis.defineCommand('sdfBatchFinish', { lua: FINISH, numberOfKeys: 10 });
  redis.defineCommand('sdfBatchForget', { lua: FORGET, numberOfKeys: 5 });
}

/** Members a FINISH call ends at once: short scripts, so Redis never stalls on a large batch. */
const FINISH_CHUNK = 500;

function holdsOf(raw: string[]): (BudgetHold | undefined)[] {
  return raw.map((h) => (h ? (JSON.parse(h) as BudgetHold) : undefined));
}

function wakesOf(raw: string[]): Wake[] {
  return raw.flatMap((w) => {
    const [stage, jobId] = w.split('|');
    return stage && jobId && isStage(stage) ? [{ stage, jobId }] : [];
  });
}

export class BatchStore {
  constructor(
    readonly redis: Redis,
    readonly prefix: string,
  ) {
    defineScripts(redis);
  }

  #keys(runId: string) {
    return batchKeys(this.prefix, runId);
  }

  /**
   * The answer for `key` if there is one; else `waiting` when the request is pending or in a batch,
   * `added` when it was added now (`add`, with the budget `hold` reserved for it), or `unknown`.
   */
  async ask(
    runId: string,
    ask: { key: string; task: string; jobId: string; model: string; request: BatchRequestBody },
    options: { add: boolean; hold?: BudgetHold } = { add: true },
  ): Promise<BatchAnswer | 'added' | 'waiting' | 'unknown'> {
    const k = this.#keys(runId);
    const value = `${ask.task}|${ask.model}|${JSON.stringify(ask.request)}`;
    const reply = await this.redis.sdfBatchAsk(k.answers, k.requests, k.tasks, k.pending(ask.model), k.models, k.holds, ask.key, ask.task, ask.jobId, value, Date.now(), ask.model, options.add ? 1 : 0, options.hold ? JSON.stringify(options.hold) : '');
    if (typeof reply === 'string') return JSON.parse(reply) as BatchAnswer;
    return reply === 2 ? 'added' : reply === 1 ? 'waiting' : 'unknown';
  }

  /** Keeps the online answer of a request whose batch answer was an error; false when its task no longer wants it. */
  async answerOnline(runId: string, key: string, answer: BatchAnswer): Promise<boolean> {
    const k = this.#keys(runId);
    return (await this.redis.sdfBatchAnswerOnline(k.requests, k.answers, k.stats, key, JSON.stringify(answer))) === 1;
  }

  /** Models with pending requests: how many, and since when the oldest waits (0: put back by a failed batch, due at once). */
  async pending(runId: string): Promise<{ model: string; count: number; oldestAt: number }[]> {
    const k = this.#keys(runId);
    const models = await this.redis.smembers(k.models);
    const out = [];
    for (const model of models) {
      const [count, oldest] = await Promise.all([this.redis.zcard(k.pending(model)), this.redis.zrange(k.pending(model), 0, 0, 'WITHSCORES')]);
      if (count > 0) out.push({ model, count, oldestAt: Number(oldest[1] ?? 0) });
    }
    return out;
  }

  /** Forms a batch of up to `max` of the model's oldest pending requests; undefined when none is pending. */
  async form(runId: string, token: string, model: string, max: number): Promise<BatchRecord | undefined> {
    const k = this.#keys(runId);
    const seq = await this.redis.sdfBatchForm(runKeys(this.prefix, runId).owner, k.pending(model), k.requests, k.tries, k.batches, k.stats, token, max, Date.now(), model, `${this.prefix}/${runId}/`, k.membersPrefix);
    return seq === -1 ? this.#fenced(runId) : seq === 0 ? undefined : (await this.records(runId)).find((r) => r.seq === seq);
  }

  /** The run's batches not yet consumed, oldest first. */
  async records(runId: string): Promise<BatchRecord[]> {
    const all = await this.redis.hvals(this.#keys(runId).batches);
    return all.map((r) => JSON.parse(r) as BatchRecord).sort((a, b) => a.seq - b.seq);
  }

  /** Rewrites a batch's record; false when the batch was consumed meanwhile. */
  async setRecord(runId: string, token: string, record: BatchRecord): Promise<boolean> {
    const k = this.#keys(runId);
    const done = await this.redis.sdfBatchSetRecord(runKeys(this.prefix, runId).owner, k.batches, token, record.seq, JSON.stringify(record));
    if (done === -1) this.#fenced(runId);
    return done === 1;
  }

  /** A batch's members (request key and task), in the order they were put in it. */
  async members(runId: string, seq: number): Promise<{ key: string; task: string; stage: Stage }[]> {
    const list = await this.redis.lrange(this.#keys(runId).members(seq), 0, -1);
    return list.flatMap((m) => {
      const [key, task] = m.split(' ');
      const stage = task?.slice(0, task.indexOf(':'));
      return key && task && stage && isStage(stage) ? [{ key, task, stage }] : [];
    });
  }

  /** The request bodies of still-wanted keys (a key whose task was committed meanwhile is left out). */
  async requests(runId: string, keys: string[]): Promise<Map<string, BatchRequestBody>> {
    const out = new Map<string, BatchRequestBody>();
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await this.redis.hmget(this.#keys(runId).requests, ...chunk);
      values.forEach((value, j) => {
        if (!value) return;
        const body = value.indexOf('|', value.indexOf('|') + 1);
        out.set(chunk[j]!, JSON.parse(value.slice(body + 1)) as BatchRequestBody);
      });
    }
    return out;
  }

  /**
   * Stores chunk `chunk` of a finished batch's results (applied once whatever happens): answers of
   * still-wanted requests, and the spend of every result. Returns whether the chunk was applied now
   * (false: before), the tasks to wake, which items were stored and their budget holds (to settle).
   */
  async answer(runId: string, token: string, seq: number, chunk: number, model: string, items: BatchResultItem[]): Promise<{ applied: boolean; wakes: Wake[]; stored: number[]; holds: (BudgetHold | undefined)[] }> {
    const k = this.#keys(runId);
    const rows = items.map((it) => [it.key, JSON.stringify(it.answer), 'error' in it.answer ? 1 : 0, it.stage, it.tokens.promptTokens, it.tokens.cachedTokens, it.tokens.outputTokens, it.tokens.thoughtsTokens, it.costUsd, it.unpriced ? 1 : 0]);
    const reply = await this.redis.sdfBatchAnswer(runKeys(this.prefix, runId).owner, k.requests, k.answers, k.tasks, k.stats, runKeys(this.prefix, runId).results, k.holds, token, seq, chunk, model, JSON.stringify(rows));
    if (reply === -1) this.#fenced(runId);
    if (!Array.isArray(reply) || reply.length === 0) return { applied: false, wakes: [], stored: [], holds: [] };
    return { applied: true, wakes: wakesOf(reply[0] ?? []), stored: (reply[1] ?? []).map((i) => Number(i) - 1), holds: holdsOf(reply[2] ?? []) };
  }

  /**
   * Ends a batch: its unanswered, still-wanted requests go back to pending (`requeue`, while they
   * have been in fewer than `maxTries` batches) or get `error` (their tasks run them online).
   * Then the record goes and `finalState` is counted. Returns the tasks to wake, the counts, and
   * the budget holds of the requests that failed (to release: their online calls reserve anew).
   */
  async finish(
    runId: string,
    token: string,
    record: BatchRecord,
    options: { requeue: boolean; maxTries: number; error: BatchAnswer; finalState: string },
  ): Promise<{ wakes: Wake[]; requeued: number; failed: number; holds: BudgetHold[] }> {
    const k = this.#keys(runId);
    const out = { wakes: [] as Wake[], requeued: 0, failed: 0, holds: [] as BudgetHold[] };
    for (;;) {
      const reply = await this.redis.sdfBatchFinish(
        runKeys(this.prefix, runId).owner,
        k.requests,
        k.answers,
        k.tries,
        k.batches,
        k.stats,
        k.members(record.seq),
        k.pending(record.model),
        k.tasks,
        k.holds,
        token,
        record.seq,
        options.requeue ? 1 : 0,
        options.maxTries,
        FINISH_CHUNK,
        JSON.stringify(options.error),
        options.finalState,
      );
      if (reply === -1 || !Array.isArray(reply)) return this.#fenced(runId);
      out.wakes.push(...wakesOf(reply[1] ?? []));
      out.requeued += Number(reply[2] ?? 0);
      out.failed += Number(reply[3] ?? 0);
      out.holds.push(...holdsOf(reply[4] ?? []).filter((h) => h !== undefined));
      if (Number(reply[0]) === 1) return out;
    }
  }

  /** Drops the batch state of committed tasks (`<stage>:<index>`); returns the budget holds they still had (to release). */
  async forget(runId: string, tasks: string[]): Promise<{ dropped: number; holds: BudgetHold[] }> {
    const out = { dropped: 0, holds: [] as BudgetHold[] };
    const k = this.#keys(runId);
    for (let i = 0; i < tasks.length; i += 500) {
      const [dropped, holds] = await this.redis.sdfBatchForget(k.requests, k.answers, k.tries, k.tasks, k.holds, k.pendingPrefix, ...tasks.slice(i, i + 500));
      out.dropped += Number(dropped);
      out.holds.push(...holdsOf(holds).filter((h) => h !== undefined));
    }
    return out;
  }

  /** One page of the tasks that have batch state (`<stage>:<index>`), for a sweep of leftovers. */
  async scanTasks(runId: string, cursor: string): Promise<{ cursor: string; tasks: string[] }> {
    const [next, flat] = await this.redis.hscan(this.#keys(runId).tasks, cursor, 'COUNT', 500);
    return { cursor: next, tasks: flat.filter((_, i) => i % 2 === 0) };
  }

  /** Notes (or clears, with undefined) why a model's batches cannot be submitted now, for run status. */
  async noteLimit(runId: string, model: string, note: string | undefined): Promise<void> {
    const k = this.#keys(runId);
    if (note) await this.redis.hset(k.stats, `limit:${model}`, note);
    else await this.redis.hdel(k.stats, `limit:${model}`);
  }

  async stats(runId: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.#keys(runId).stats);
  }

  #fenced(runId: string): never {
    throw new FencedError(runId);
  }
}
