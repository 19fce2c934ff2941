import type { Redis } from 'ioredis';
import { ConflictError, NotFoundError } from '../errors.js';
import { dailyBudgetKeys, runKeys } from '../keys.js';
import { FencedError } from '../runs/run-ledger.js';
import { FINAL_STATES } from '../runs/run-state.js';
import { EXHAUST, READ, READ_DAILY, RESERVE, RESUME, RETURNED, SETTLE, SET_CAP } from './budget-scripts.js';

/**
 * The one writer of budgets: a run's cap, spend and reservations (`run:<id>:budget`) and each
 * model's daily budget (`budget:daily:<model>`). Workers reserve a call's worst case before it and
 * settle it to the actual cost after; the API sets caps; the run's owner moves the run between
 * `running` and `budget_exhausted` (fenced by its lease token, like every ledger write of a run).
 * Each transition is one script (budget-scripts.ts), so any number of workers share a cap without
 * races.
 */

const NANO = 1e9;

export function toNanoUsd(usd: number): number {
  return Math.round(usd * NANO);
}

export function fromNanoUsd(nano: number): number {
  return nano / NANO;
}

/** One call's reservation, as settle needs it back. */
export interface BudgetHold {
  id: string;
  /** Nano-USD held (the call's worst case). */
  nano: number;
  runId: string | undefined;
  /** Whether the run's cap holds it (false: the run has no cap; its spend is still counted). */
  runHeld: boolean;
  model: string;
  /** The Pacific day the model's daily budget holds it under; undefined when the model has none. */
  day: string | undefined;
}

export interface ReserveRequest {
  /** The run whose budget pays; undefined for a call of no run (only a daily budget applies). */
  runId: string | undefined;
  /** The spec's budget: becomes the run's cap if none is set yet. */
  initialCapUsd: number | undefined;
  model: string;
  /** The call's worst-case cost; undefined when the model has no price (a capped run refuses it). */
  worstUsd: number | undefined;
  /** The model's daily budget, if it has one. */
  dailyCapUsd: number | undefined;
  /** How long the hold lives if never settled (its worker died): longer than any call can take. */
  ttlMs: number;
  /** Recorded on the run as what was refused, for status. */
  note: string;
}

export type Reservation =
  | { kind: 'held'; hold: BudgetHold; capped: boolean }
  | { kind: 'wait'; capped: boolean }
  | { kind: 'refused' }
  | { kind: 'daily-spent'; day: string; retryInMs: number };

export interface RunBudget {
  /** The cap; undefined when the run has none (its spend is still counted). */
  usd: number | undefined;
  spentUsd: number;
  /** Worst cases of the run's calls in flight. */
  reservedUsd: number;
  /** What was refused, while the run is stopped by its cap. */
  refused: string | undefined;
  /** Redis time (ms) of the raise that cleared a refusal, until the owner has returned the parked tasks. */
  resumeAt: number | undefined;
}

export interface DailyBudget {
  day: string;
  spentUsd: number;
  reservedUsd: number;
  /** Until the Pacific day ends. */
  resetsInMs: number;
}

const COMMANDS = {
  sdfBudgetReserve: { numberOfKeys: 4, lua: RESERVE },
  sdfBudgetSettle: { numberOfKeys: 5, lua: SETTLE },
  sdfBudgetSetCap: { numberOfKeys: 2, lua: SET_CAP },
  sdfBudgetExhaust: { numberOfKeys: 3, lua: EXHAUST },
  sdfBudgetResume: { numberOfKeys: 3, lua: RESUME },
  sdfBudgetReturned: { numberOfKeys: 2, lua: RETURNED },
  sdfBudgetRead: { numberOfKeys: 2, lua: READ },
  sdfBudgetReadDaily: { numberOfKeys: 2, lua: READ_DAILY },
} as const;

type Arg = string | number;
type Commands = { [name in keyof typeof COMMANDS]: (...args: Arg[]) => Promise<unknown> };

let sequence = 0;

export interface BudgetLedgerOptions {
  /** A clock for tests (reservations and their expiry); by default Redis's TIME. */
  now?: () => number;
}

export class BudgetLedger {
  readonly #redis: Redis & Commands;
  readonly #prefix: string;
  readonly #now: (() => number) | undefined;
  readonly #id = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;

  constructor(redis: Redis, prefix: string, options: BudgetLedgerOptions = {}) {
    for (const [name, definition] of Object.entries(COMMANDS)) {
      if (!(name in redis)) redis.defineCommand(name, definition);
    }
    this.#redis = redis as Redis & Commands;
    this.#prefix = prefix;
    this.#now = options.now;
  }

  async reserve(request: ReserveRequest): Promise<Reservation> {
    const run = runKeys(this.#prefix, request.runId ?? '-');
    const daily = dailyBudgetKeys(this.#prefix, request.model);
    const id = `${this.#id}.${(sequence++).toString(36)}`;
    // At least 1: a hold of 0 could not be told apart from none, and "-0" is no integer to Redis.
    const nano = request.worstUsd === undefined ? -1 : Math.max(1, Math.ceil(request.worstUsd * NANO));
    const [outcome, capped, day, retryMs] = (await this.#redis.sdfBudgetReserve(
      run.budget,
      run.budgetHolds,
      daily.day,
      daily.holds,
      id,
      nano,
      Math.ceil(request.ttlMs),
      request.initialCapUsd === undefined ? '' : toNanoUsd(request.initialCapUsd),
      request.dailyCapUsd === undefined ? '' : toNanoUsd(request.dailyCapUsd),
      request.note,
      request.runId ? '1' : '0',
      this.#now ? this.#now() : '',
    )) as [string, number, string, number];
    if (outcome === 'refused') return { kind: 'refused' };
    if (outcome === 'daily-spent') return { kind: 'daily-spent', day, retryInMs: Number(retryMs) };
    if (outcome === 'wait') return { kind: 'wait', capped: capped === 1 };
    return { kind: 'held', capped: capped === 1, hold: { id, nano, runId: request.runId, runHeld: capped === 1, model: request.model, day: day || undefined } };
  }

  /** Ends a hold with the call's actual cost (0 for a request that failed). */
  async settle(hold: BudgetHold, actualUsd: number): Promise<void> {
    const run = runKeys(this.#prefix, hold.runId ?? '-');
    const daily = dailyBudgetKeys(this.#prefix, hold.model);
    const actual = Math.max(0, toNanoUsd(actualUsd));
    await this.#redis.sdfBudgetSettle(run.budget, run.budgetHolds, daily.day, daily.holds, run.meta, hold.id, Math.max(0, hold.nano), actual, hold.runHeld ? '1' : '0', hold.runId ? '1' : '0', hold.day ?? '');
  }

  /** The spec's budget as the run's cap, unless one is set already (at submission). */
  async initCap(runId: string, usd: number): Promise<void> {
    await this.#redis.hsetnx(runKeys(this.#prefix, runId).budget, 'cap', toNanoUsd(usd));
  }

  /**
   * Sets the run's cap. Raising it on a run its cap stopped resumes the run (through its owner);
   * lowering it below what is spent stops the run at its next call. A run that is over is refused.
   */
  async setCap(runId: string, usd: number, specUsd: number | undefined): Promise<{ previousUsd: number | undefined; resumed: boolean }> {
    const k = runKeys(this.#prefix, runId);
    const reply = (await this.#redis.sdfBudgetSetCap(k.budget, k.meta, toNanoUsd(usd), specUsd === undefined ? '' : toNanoUsd(specUsd), ...FINAL_STATES)) as [number, string?, number?];
    if (reply[0] === -1) throw new NotFoundError(`run ${runId} not found`);
    if (reply[0] === -2) throw new ConflictError(`run ${runId} is ${reply[1]}; its budget can no longer change`);
    return { previousUsd: reply[1] ? fromNanoUsd(Number(reply[1])) : undefined, resumed: reply[2] === 1 };
  }

  /** What the run's owner follows every step: a refusal to act on, a raise to resume from (one HMGET). */
  async flags(runId: string): Promise<Pick<RunBudget, 'refused' | 'resumeAt'>> {
    const [refused, resume] = await this.#redis.hmget(runKeys(this.#prefix, runId).budget, 'refused', 'resume');
    return { refused: refused || undefined, resumeAt: resume ? Number(resume) : undefined };
  }

  async read(runId: string): Promise<RunBudget> {
    const k = runKeys(this.#prefix, runId);
    const [cap, spent, reserved, refused, resume] = (await this.#redis.sdfBudgetRead(k.budget, k.budgetHolds, this.#now ? this.#now() : '')) as [string, string, number, string, string];
    return {
      usd: cap ? fromNanoUsd(Number(cap)) : undefined,
      spentUsd: fromNanoUsd(Number(spent)),
      reservedUsd: fromNanoUsd(Number(reserved)),
      refused: refused || undefined,
      resumeAt: resume ? Number(resume) : undefined,
    };
  }

  async readDaily(model: string): Promise<DailyBudget> {
    const k = dailyBudgetKeys(this.#prefix, model);
    const [day, spent, reserved, untilMidnight] = (await this.#redis.sdfBudgetReadDaily(k.day, k.holds, this.#now ? this.#now() : '')) as [string, string, number, number];
    return { day, spentUsd: fromNanoUsd(Number(spent)), reservedUsd: fromNanoUsd(Number(reserved)), resetsInMs: Number(untilMidnight) };
  }

  /** The run's owner: stops the run if a call was refused under its current cap. */
  async exhaust(runId: string, token: string): Promise<boolean> {
    const k = runKeys(this.#prefix, runId);
    return this.#fenced(runId, await this.#redis.sdfBudgetExhaust(k.owner, k.meta, k.budget, token));
  }

  /** The run's owner: resumes a stopped run whose cap was raised. */
  async resume(runId: string, token: string): Promise<boolean> {
    const k = runKeys(this.#prefix, runId);
    return this.#fenced(runId, await this.#redis.sdfBudgetResume(k.owner, k.meta, k.budget, token));
  }

  /** The run's owner: done returning the tasks parked before the raise at `resumeAt`, once `afterMs` have passed since it. */
  async returned(runId: string, token: string, resumeAt: number, afterMs: number): Promise<boolean> {
    const k = runKeys(this.#prefix, runId);
    return this.#fenced(runId, await this.#redis.sdfBudgetReturned(k.owner, k.budget, token, resumeAt, afterMs));
  }

  #fenced(runId: string, reply: unknown): boolean {
    if (reply === -1) throw new FencedError(runId);
    return reply === 1;
  }
}
