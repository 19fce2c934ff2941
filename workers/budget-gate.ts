import type { BudgetHold, BudgetLedger, ReserveRequest } from '../core/budget/budget-ledger.js';
import type { DailyBudgets } from '../core/budget/daily-budgets.js';
import type { FarmMetrics } from '../core/metrics.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { Usage } from '../core/task.js';
import type { ModelRequest } from './call-model.js';
import { QuotaWait } from './quota-gate.js';

/** QuotaWait reason: the model's daily budget is spent; the call waits for the next Pacific day. */
export const DAILY_BUDGET = 'daily-budget';

/**
 * How long a task the budget stopped stays parked (BullMQ's delayed set) before it looks again.
 * Its run's owner returns parked tasks as soon as the budget is raised; this is only the fallback.
 */
export const BUDGET_PARK_MS = 5 * 60_000;

/**
 * The run's budget refused the call: it is not made. The task is parked (not failed, no attempt
 * spent) and the run's owner, seeing the refusal, stops the run as `budget_exhausted`. A
 * QuotaWait, so every caller that already hands a task back on a quota wait does the same here.
 */
export class BudgetRefused extends QuotaWait {
  override name = 'BudgetRefused';
  constructor(
    model: string,
    readonly runId: string,
  ) {
    super(model, BUDGET_PARK_MS, 'budget');
    this.message = `run ${runId}: the budget is spent; a ${model} call was refused`;
  }
}

/** What call-model needs: a hold settled with the call's actual cost, or released when the request failed. */
export interface BudgetHoldHandle {
  /** The reservation itself, for a caller whose call is settled elsewhere (batch mode: by the run's owner). */
  hold: BudgetHold;
  settle(costUsd: number): Promise<void>;
  /** Never throws: a hold that could not be released expires on its own. */
  release(): Promise<void>;
}

export interface BudgetGateDeps {
  ledger: BudgetLedger;
  /** The run's spec (its `budget` is the run's first cap). */
  specOf: (runId: string) => RunSpec | undefined | Promise<RunSpec | undefined>;
  costOf: (model: string, usage: Pick<Usage, 'promptTokens' | 'outputTokens' | 'thoughtsTokens'>) => number | undefined;
  dailyBudgets: DailyBudgets;
  /** Longer than any call can take (request timeout plus quota waits); a dead worker's hold expires after it. */
  holdTtlMs: number;
  metrics?: FarmMetrics;
  /** Waits this long in place for calls in flight to settle before handing the task back. @defaultValue 3000 */
  maxInlineWaitMs?: number;
  /** How long a run found without a cap is not asked again (a cap added later applies after it). @defaultValue 1000 */
  uncappedTtlMs?: number;
}

/**
 * Reserves each call's worst-case cost (the input estimate, plus the whole output cap as output,
 * at the model's price) against its run's budget and the model's daily budget before the call,
 * and settles it to the actual cost after. Runs without a cap are remembered for a second, so
 * their calls cost one Redis command (the settle, which counts their spend in case a cap is added).
 */
export function createBudgetGate(deps: BudgetGateDeps) {
  const maxInline = deps.maxInlineWaitMs ?? 3000;
  const uncappedTtl = deps.uncappedTtlMs ?? 1000;
  const uncappedUntil = new Map<string, number>();

  const handle = (hold: BudgetHold): BudgetHoldHandle => ({
    hold,
    settle: (costUsd) => deps.ledger.settle(hold, costUsd),
    release: () => deps.ledger.settle(hold, 0).catch(() => {}),
  });

  return {
    /** `ttlMs`: how long the hold lasts unsettled (a batch request's lasts its batch's turnaround). @defaultValue holdTtlMs */
    async reserve(request: ModelRequest, estimatedInputTokens: number, options: { ttlMs?: number } = {}): Promise<BudgetHoldHandle | undefined> {
      const { runId, model } = request;
      const dailyCapUsd = deps.dailyBudgets[model];
      if (!runId && dailyCapUsd === undefined) return undefined;
      if (runId && dailyCapUsd === undefined && (uncappedUntil.get(runId) ?? 0) > Date.now()) {
        return handle({ id: 'uncapped', nano: 0, runId, runHeld: false, model, day: undefined });
      }
      const worstUsd = deps.costOf(model, { promptTokens: estimatedInputTokens, outputTokens: request.maxOutputTokens, thoughtsTokens: 0 });
      const reserveRequest: ReserveRequest = {
        runId,
        initialCapUsd: runId ? (await deps.specOf(runId))?.budget?.usd : undefined,
        model,
        worstUsd,
        dailyCapUsd,
        ttlMs: options.ttlMs ?? deps.holdTtlMs,
        note: `a ${model} call of up to $${(worstUsd ?? Number.NaN).toFixed(6)}${worstUsd === undefined ? ' (the model has no price)' : ''}`,
      };
      let waitedMs = 0;
      for (let round = 0; ; round++) {
        const reservation = await deps.ledger.reserve(reserveRequest);
        if (reservation.kind === 'held') {
          if (runId && !reservation.capped) {
            uncappedUntil.set(runId, Date.now() + uncappedTtl);
            if (uncappedUntil.size > 1000) uncappedUntil.delete(uncappedUntil.keys().next().value!);
          }
          return handle(reservation.hold);
        }
        if (reservation.kind === 'refused') {
          deps.metrics?.budgetRefusals.inc({ scope: 'run', model });
          throw new BudgetRefused(model, runId!);
        }
        if (reservation.kind === 'daily-spent') {
          deps.metrics?.budgetRefusals.inc({ scope: 'daily', model });
          throw new QuotaWait(model, reservation.retryInMs, DAILY_BUDGET);
        }
        // Only calls in flight stand in the way: as they settle (to their actual cost, usually far
        // below their worst case) room comes back. Wait a little in place, then hand the task back.
        const sleep = Math.min(500, 50 * 2 ** round) * (0.5 + Math.random());
        if (waitedMs + sleep > maxInline) throw new QuotaWait(model, 1000 + Math.random() * 1000, 'budget-wait');
        await new Promise((r) => setTimeout(r, sleep));
        waitedMs += sleep;
      }
    },
  };
}

export type BudgetGate = ReturnType<typeof createBudgetGate>;
