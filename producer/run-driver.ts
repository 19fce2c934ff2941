import type { Redis } from 'ioredis';
import type { BudgetLedger } from '../core/budget/budget-ledger.js';
import { runKeys } from '../core/keys.js';
import type { Logger } from '../core/logger.js';
import type { FarmMetrics } from '../core/metrics.js';
import { FencedError, type RunLedger } from '../core/runs/run-ledger.js';
import { decodeEntries, type ResultEntry } from '../core/runs/run-results.js';
import { runFilePath, type RunFile } from '../core/runs/run-files.js';
import type { RunStore } from '../core/runs/run-store.js';
import { expireWorkingState } from '../core/runs/run-retention.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import type { TaskResult } from '../core/task.js';
import type { Stage } from '../core/stages.js';
import { AppendLog, OutputFileLostError } from './append-log.js';
import type { AuditTrigger } from './audit-trigger.js';
import { planBatch } from './commit-batch.js';
import type { Expander } from './expander.js';
import { seedItems, type RunPlan } from './expansion-plan.js';
import { finalizePatterns } from './finalize-patterns.js';
import { Reconciler } from './reconciler.js';
import { repairRunFiles } from './repair-run-files.js';

export interface RunDriverDeps {
  redis: Redis;
  prefix: string;
  dataDir: string;
  runs: RunStore;
  ledger: RunLedger;
  expander: Expander;
  audits: AuditTrigger;
  metrics: FarmMetrics | undefined;
  logger: Logger;
  /** fdatasync each file a batch wrote before its lengths are committed. @defaultValue true */
  fsync: boolean;
  /** Seconds a finished run's working state stays in Redis. */
  retentionS: number;
  reconcileIntervalMs: number;
  /** The run's fencing token while this producer owns it, else undefined. */
  token: () => string | undefined;
  /** Told the results each commit committed (batch mode drops their requests and answers). */
  onCommitted?: (committed: TaskResult[]) => Promise<void>;
  budgets: BudgetLedger;
  /** Promotes the run's parked tasks (producer/return-parked-tasks.ts); returns how many. */
  returnParked: (runId: string) => Promise<number>;
}

/** How long after a raise the owner keeps returning parked tasks: past every worker's cached run state (1 s). */
const RETURN_PARKED_FOR_MS = 3000;

/**
 * Everything one owned run needs, in one place: its files, its commits, its expansion, its end.
 * Operations on a run are serialised (one at a time), so a commit, an expansion step and a
 * reconciliation never interleave. Every write to Redis goes through the ledger with the run's
 * fencing token; a refused token stops the driver at once.
 */
export class RunDriver {
  readonly #deps: RunDriverDeps;
  readonly #logs = new Map<RunFile, AppendLog>();
  readonly #reconciler: Reconciler;
  #queue: Promise<unknown> = Promise.resolve();
  #opened = false;
  #lastCommitAt = Date.now();
  /** Per kind, how many of the run's numbered audits are known to have ended. */
  readonly #auditsEnded = { document: 0, chat: 0 };
  #closed = false;

  constructor(
    readonly runId: string,
    readonly spec: RunSpec,
    readonly plan: RunPlan,
    deps: RunDriverDeps,
  ) {
    this.#deps = deps;
    this.#reconciler = new Reconciler({ ...deps, runId, plan });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Runs `fn` after every earlier operation on this run. */
  /** Resolves once the operations queued so far have run. */
  idle(): Promise<void> {
    return this.#queue.then(() => {});
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(() => (this.#closed ? (undefined as T) : fn()));
    this.#queue = next.catch(() => {});
    return next;
  }

  #token(): string {
    const token = this.#deps.token();
    if (!token) throw new FencedError(this.runId);
    return token;
  }

  /** Commits a batch of stream entries as read by XREAD/XRANGE. */
  commitRaw(raw: [string, string[]][]): Promise<number> {
    return this.#serial(async () => {
      const { entries, bad } = decodeEntries(this.runId, raw);
      if (bad.length > 0) this.#deps.logger.error({ runId: this.runId, entries: bad }, 'unreadable result entries dropped');
      return this.#commit(entries, bad);
    });
  }

  async #commit(entries: ResultEntry[], bad: string[] = []): Promise<number> {
    const { ledger } = this.#deps;
    const token = this.#token();
    await this.#open();
    const tasks = entries.map((e) => (e.kind === 'result' ? { stage: e.result.stage, index: e.result.index } : undefined));
    const known = tasks.filter((t) => t !== undefined);
    // One round trip: the run's state (a cancelled run's results are consumed, not written) and the done bits.
    const { state, bits } = await ledger.stateAndDoneBits(this.runId, known);
    const drop = state !== 'running' && state !== 'queued' && state !== 'budget_exhausted';
    let b = 0;
    const done = tasks.map((t) => (t ? bits[b++]! : false));
    const planned = planBatch(entries, done, this.plan, drop);
    planned.batch.consumed.push(...bad);

    const before = new Map<RunFile, number>();
    // Checked right before the files are touched: a producer that was paused past its lease stops here.
    this.#token();
    for (const [file, records] of planned.writes) {
      const log = this.#log(file);
      before.set(file, log.length);
      planned.batch.offsets[file] = log.append(records);
    }
    if (this.#deps.fsync) await Promise.all([...planned.writes.keys()].map((file) => this.#log(file).sync()));
    let outcome;
    try {
      outcome = await ledger.commit(this.runId, token, planned.batch);
    } catch (err) {
      // Fenced: the files now belong to the new owner, who cuts our bytes off; do not touch them.
      if (!(err instanceof FencedError)) for (const [file, length] of before) this.#logs.get(file)?.rollback(length);
      throw err;
    }
    if (!outcome.ok) {
      // Only this owner sets done bits, so this means a bug or a second owner: never write twice.
      for (const [file, length] of before) this.#logs.get(file)?.rollback(length);
      this.#deps.logger.error({ runId: this.runId, alreadyDone: outcome.alreadyDone.slice(0, 10) }, 'batch held tasks already committed; retrying without them');
      const skip = new Set(outcome.alreadyDone.map((t) => `${t.stage}:${t.index}`));
      return this.#commit(entries.filter((e) => e.kind !== 'result' || !skip.has(`${e.result.stage}:${e.result.index}`)));
    }
    this.#lastCommitAt = Date.now();
    this.#deps.metrics?.commitBatchSize.observe(entries.length);
    await this.#afterCommit(planned.committed);
    return planned.committed.length;
  }

  async #afterCommit(committed: TaskResult[]): Promise<void> {
    if (committed.length > 0) await this.#deps.onCommitted?.(committed).catch((err: unknown) => this.#deps.logger.error({ err, runId: this.runId }, 'dropping the batch state of committed tasks failed; the next owner sweeps it'));
    const accepted = { document: 0, chat: 0 };
    for (const r of committed) {
      // Only final records (not drafts on their way to revise) count towards an audit; a
      // multi-turn chat is final also when a rejected turn ended it (written by either chat stage).
      const file = this.plan.recordsOf[r.stage];
      if (!r.record || !file || (r.outcome !== 'accepted' && !(r.outcome === 'rejected' && file === 'chats'))) continue;
      accepted[file === 'chats' ? 'chat' : 'document']++;
    }
    for (const kind of ['document', 'chat'] as const) {
      if (accepted[kind] === 0) continue;
      await this.#deps.audits.accepted(this.runId, this.spec, kind, accepted[kind]).catch((err) => this.#deps.logger.error({ err, runId: this.runId }, 'queueing a pattern audit failed'));
    }
  }

  /** Starts, refills, reconciles or completes the run. Returns false once the run is over for this producer. */
  step(): Promise<boolean> {
    return this.#serial(async () => {
      const { runs, ledger, expander, logger } = this.#deps;
      // The state and the counts, every step; the spec was parsed once, when this driver was made.
      const { state: read, inflight: before } = await ledger.stateAndInflight(this.runId, this.plan.stages);
      if (read !== 'queued' && read !== 'running' && read !== 'budget_exhausted') return false;
      let inflight = before;
      const token = this.#token();
      await this.#open();
      const state = await this.#followBudget(read, token);
      if (state !== 'queued' && state !== 'running' && state !== 'budget_exhausted') return false;
      if (state === 'queued') {
        await this.#start(token);
        // A cancel that landed meanwhile wins: the next step sees it and lets the run go.
        if (!(await runs.markRunning(this.runId))) return true;
        logger.info({ runId: this.runId, name: this.spec.name }, 'run started');
        // Starting enqueued the root tasks: count again.
        inflight = await ledger.inflight(this.runId, this.plan.stages);
      }
      // A run its budget stopped enqueues nothing more; its results (of calls already in flight) are still committed.
      const stopped = state === 'budget_exhausted';
      const added = stopped ? 0 : await expander.expand(this.runId, this.plan, token, inflight);
      if (Date.now() - this.#lastCommitAt > this.#deps.reconcileIntervalMs) {
        this.#lastCommitAt = Date.now();
        await this.#reconciler.reconcile();
      }
      if (stopped || added > 0 || Object.values(inflight).some((n) => n > 0)) return true;
      return !(await this.#tryComplete(token));
    });
  }

  /**
   * Follows the run's budget (the run's owner is the one that moves its state): a call refused
   * under the current cap stops the run as `budget_exhausted`; a raise that cleared the refusal
   * resumes it, and the tasks workers parked meanwhile are returned (again on every step for a
   * few seconds, for workers whose cached run state still said stopped). Returns the state now.
   */
  async #followBudget(state: string, token: string): Promise<string | undefined> {
    const { budgets, runs, logger } = this.#deps;
    const flags = await budgets.flags(this.runId);
    if (state === 'budget_exhausted') {
      if (flags.refused) return state;
      if (!(await budgets.resume(this.runId, token))) return runs.state(this.runId);
      logger.info({ runId: this.runId }, 'budget raised: run resumed');
      state = 'running';
    }
    if (flags.resumeAt !== undefined) {
      const returned = await this.#deps.returnParked(this.runId);
      if (returned > 0) logger.info({ runId: this.runId, returned }, 'parked tasks returned');
      await budgets.returned(this.runId, token, flags.resumeAt, RETURN_PARKED_FOR_MS);
    }
    if (state === 'running' && flags.refused && (await budgets.exhaust(this.runId, token))) {
      logger.warn({ runId: this.runId, refused: flags.refused }, 'budget spent: run stopped as budget_exhausted');
      return 'budget_exhausted';
    }
    return state;
  }

  async #start(token: string): Promise<void> {
    const { ledger, expander } = this.#deps;
    if (await ledger.isStarted(this.runId)) return;
    const offsets: Record<string, number> = {};
    const roots: Stage[] = [];
    for (const root of this.plan.roots) {
      if (root.seeded) {
        // A seed file may hold bytes from a start that crashed before its commit: the log cuts them off.
        offsets[root.file] = this.#log(root.file).append(seedItems(this.spec, root.stage));
        if (this.#deps.fsync) await this.#log(root.file).sync();
      } else {
        await expander.enqueueRoot(this.runId, root.stage);
        roots.push(root.stage);
      }
    }
    await ledger.start(this.runId, token, offsets, roots);
  }

  /** Whether a pattern audit of the run is still to run or running (its spend is still to come). */
  async #auditsPending(): Promise<boolean> {
    for (const kind of ['document', 'chat'] as const) {
      const { ended, pending } = await this.#deps.audits.unfinished(this.runId, kind, this.#auditsEnded[kind]);
      this.#auditsEnded[kind] = ended;
      if (pending) return true;
    }
    return false;
  }

  async #tryComplete(token: string): Promise<boolean> {
    const { redis, prefix, dataDir, ledger, logger } = this.#deps;
    const sources = this.plan.expansions.map((e) => e.source);
    // Cheap checks first; the ledger checks everything again atomically as it completes the run.
    if ((await redis.xlen(runKeys(prefix, this.runId).results)) > 0) return false;
    if (await this.#auditsPending()) return false;
    const withheld = await finalizePatterns(redis, prefix, dataDir, this.runId, this.spec);
    if (withheld > 0) logger.info({ runId: this.runId, withheld }, 'records carrying active patterns withheld from the export');
    const outcome = await ledger.complete(this.runId, token, this.plan.stages, sources);
    if (outcome === 'not-finished') return false;
    if (outcome === 'completed') {
      logger.info({ runId: this.runId }, 'run completed');
      await expireWorkingState(redis, prefix, this.runId, this.#deps.retentionS);
    }
    return true;
  }

  /** Opens the run's files at their committed lengths, repairing any that lost committed bytes. */
  async #open(): Promise<void> {
    if (this.#opened) return;
    const { redis, prefix } = this.#deps;
    const offsets = await redis.hgetall(runKeys(prefix, this.runId).offsets);
    try {
      for (const [file, length] of Object.entries(offsets)) this.#openLog(file as RunFile, Number(length));
    } catch (err) {
      if (!(err instanceof OutputFileLostError)) throw err;
      for (const log of this.#logs.values()) log.close();
      this.#logs.clear();
      this.#deps.logger.error({ runId: this.runId, err }, 'run files lost committed bytes: repairing');
      const repaired = await repairRunFiles({ ...this.#deps, runId: this.runId, plan: this.plan, token: this.#token() });
      this.#deps.logger.warn({ runId: this.runId, ...repaired }, 'run files repaired; lost tasks will run again');
      this.#deps.metrics?.reconcilerRepairs.inc({ kind: 'lost-output' }, repaired.lost);
      const fresh = await redis.hgetall(runKeys(prefix, this.runId).offsets);
      for (const [file, length] of Object.entries(fresh)) this.#openLog(file as RunFile, Number(length));
    }
    this.#opened = true;
  }

  #openLog(file: RunFile, length: number): void {
    this.#logs.set(file, new AppendLog(runFilePath(this.#deps.dataDir, this.runId, file), length));
  }

  #log(file: RunFile): AppendLog {
    let log = this.#logs.get(file);
    if (!log) {
      log = new AppendLog(runFilePath(this.#deps.dataDir, this.runId, file), 0);
      this.#logs.set(file, log);
    }
    return log;
  }

  /** Releases the files; later operations are ignored. Waits for the one in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue;
    for (const log of this.#logs.values()) log.close();
    this.#logs.clear();
  }
}
