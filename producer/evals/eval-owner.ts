import type { Redis } from 'ioredis';
import { answerId, initialProbeTasks, probeTaskId, type Probe, type ProbeTask } from '../../core/evals/eval-plan.js';
import { evalJobId, evalJobOptions, type EvalQueueName, type EvalQueues } from '../../core/evals/eval-queues.js';
import { addUsage, buildEvalReport, type Verdict } from '../../core/evals/eval-report.js';
import { EvalStore, type CallUsage } from '../../core/evals/eval-store.js';
import { toError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { EvalLeases } from './eval-lease.js';
import type { HeldOutIndex, HeldOutMatch } from './held-out-index.js';
import { loadTrainingPrompts } from './training-prompts.js';

export interface EvalOwnerOptions {
  redis: Redis;
  prefix: string;
  queues: EvalQueues;
  dataDir: string;
  /** Attempts of each eval task. @defaultValue 5 */
  attempts?: number;
  /** An eval's lease. @defaultValue 15000 */
  leaseTtlMs?: number;
  /** How often owned evals are stepped. @defaultValue 250 */
  tickMs?: number;
  /** How often the tasks still missing a result are compared with what BullMQ holds. @defaultValue 10000 */
  reconcileMs?: number;
  /** Generations of probe tasks that replace probes dropped as not held out (after the first). @defaultValue 2 */
  regenerations?: number;
  logger: Logger;
}

/** What a screened probe task left: probes kept, probes dropped as not held out, and what they matched. */
export interface ScreenRecord {
  written: number;
  kept: number;
  dropped: number;
  matches: { probe: string; training: string; kind: HeldOutMatch['kind']; similarity: number }[];
}

interface Owned {
  token: string;
  /** Tasks added to a queue by this owner, not yet seen with a result. */
  enqueued: Set<string>;
  training?: HeldOutIndex;
  reconciledAt: number;
}

/**
 * Drives evals, like a run's owner drives a run: one serve holds each active eval's lease and
 * is the only writer of its state, its probe tasks, its held-out probes and its report. Each
 * step reads what the workers stored (drafts, answers, verdicts, failures, each set once) and
 * adds the tasks that follow (job ids are stable, so an add repeated after a crash or by a new
 * owner is a no-op while the job exists, and a task whose result is stored is never added again).
 * Every probe is checked against the training run's prompts before it is answered; a probe that
 * repeats one is dropped, counted, and replaced by a new probe task (up to `regenerations`).
 */
export class EvalOwner {
  readonly store: EvalStore;
  readonly #options: Required<Omit<EvalOwnerOptions, 'redis' | 'queues' | 'logger' | 'prefix' | 'dataDir'>> & EvalOwnerOptions;
  readonly #leases: EvalLeases;
  readonly #owned = new Map<string, Owned>();
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: EvalOwnerOptions) {
    this.#options = { attempts: 5, leaseTtlMs: 15_000, tickMs: 250, reconcileMs: 10_000, regenerations: 2, ...options };
    this.store = new EvalStore(options.redis, options.prefix);
    this.#leases = new EvalLeases(options.redis, this.#options.leaseTtlMs, (key) => {
      for (const id of this.#owned.keys()) if (this.store.keys(id).owner === key) this.#owned.delete(id);
    });
  }

  start(): void {
    if (this.#timer) return;
    this.#leases.start();
    this.#timer = setInterval(() => void this.tick(), this.#options.tickMs);
  }

  tick(): Promise<void> {
    this.#ticking ??= this.#tick().finally(() => (this.#ticking = undefined));
    return this.#ticking;
  }

  async #tick(): Promise<void> {
    let active: string[];
    try {
      active = await this.store.active();
    } catch (err) {
      this.#options.logger.error({ err: toError(err) }, 'eval owner: reading active evals failed');
      return;
    }
    for (const id of this.#owned.keys()) if (!active.includes(id)) await this.#letGo(id);
    for (const id of active) {
      try {
        const token = await this.#leases.acquire(this.store.keys(id).owner);
        if (!token) continue;
        let owned = this.#owned.get(id);
        if (!owned || owned.token !== token) this.#owned.set(id, (owned = { token, enqueued: new Set(), reconciledAt: Date.now() }));
        await this.#step(id, owned);
      } catch (err) {
        this.#options.logger.error({ err: toError(err), evalId: id }, 'eval step failed');
      }
    }
  }

  async #letGo(id: string): Promise<void> {
    this.#owned.delete(id);
    await this.#leases.release(this.store.keys(id).owner);
  }

  async #step(id: string, owned: Owned): Promise<void> {
    const { store } = this;
    const keys = store.keys(id);
    const record = await store.get(id);
    if (record.state === 'queued') await store.transition(id, ['queued'], 'running');
    else if (record.state !== 'running') return this.#letGo(id);
    const { spec } = record;

    let tasks = await store.readHash<ProbeTask>(keys.probeTasks);
    if (tasks.size === 0) {
      const initial = initialProbeTasks(spec);
      if (!(await store.fencedSet(id, owned.token, initial.map((t) => [keys.probeTasks, t.id, JSON.stringify(t)])))) return this.#letGo(id);
      tasks = new Map(initial.map((t) => [t.id, t]));
    }
    if (spec.runId && !owned.training) {
      owned.training = await loadTrainingPrompts(this.#options.redis, this.#options.prefix, this.#options.dataDir, spec.runId);
      this.#options.logger.info({ evalId: id, runId: spec.runId, prompts: owned.training.size }, 'eval: training prompts loaded for the held-out check');
    }

    const [draftIds, screened, failed, probeIds, answerIds, scoreIds] = await Promise.all([
      this.#options.redis.hkeys(keys.drafts),
      store.readHash<ScreenRecord>(keys.screened),
      this.#options.redis.hkeys(keys.failed).then((f) => new Set(f)),
      this.#options.redis.hkeys(keys.probes),
      this.#options.redis.hkeys(keys.answers).then((a) => new Set(a)),
      this.#options.redis.hkeys(keys.scores).then((s) => new Set(s)),
    ]);

    // Held-out check of new drafts: kept probes become answerable; dropped ones are replaced.
    const unscreened = draftIds.filter((t) => !screened.has(t));
    if (unscreened.length > 0) {
      const drafts = await this.#options.redis.hmget(keys.drafts, ...unscreened);
      const writes: [string, string, string][] = [];
      unscreened.forEach((taskId, i) => {
        const probes = (JSON.parse(drafts[i] ?? '{"probes":[]}') as { probes: Probe[] }).probes;
        const screen: ScreenRecord = { written: probes.length, kept: 0, dropped: 0, matches: [] };
        const dropped: string[] = [];
        for (const probe of probes) {
          const match = [probe.prompt, ...(probe.turns ?? [])].map((text) => owned.training?.match(text)).find(Boolean);
          if (match) {
            screen.dropped++;
            dropped.push(probe.prompt);
            if (screen.matches.length < 5) screen.matches.push({ probe: probe.prompt, training: match.training, kind: match.kind, similarity: Math.round(match.similarity * 1000) / 1000 });
            continue;
          }
          screen.kept++;
          writes.push([keys.probes, probe.id, JSON.stringify(probe)]);
          probeIds.push(probe.id);
        }
        const task = tasks.get(taskId);
        if (task && screen.dropped > 0 && task.generation < this.#options.regenerations) {
          const next: ProbeTask = { ...task, id: probeTaskId(task.subject, task.kind, task.generation + 1), generation: task.generation + 1, count: screen.dropped, avoid: [...(task.avoid ?? []), ...dropped] };
          writes.push([keys.probeTasks, next.id, JSON.stringify(next)]);
          tasks.set(next.id, next);
        }
        writes.push([keys.screened, taskId, JSON.stringify(screen)]);
        screened.set(taskId, screen);
      });
      if (!(await store.fencedSet(id, owned.token, writes))) return this.#letGo(id);
    }

    // What is still to do, and the tasks for it.
    let open = 0;
    const ensure = async (queue: EvalQueueName, task: string) => {
      open++;
      const job = `${queue}:${task}`;
      if (owned.enqueued.has(job)) return;
      await this.#options.queues[queue].add(queue, { evalId: id, task }, { jobId: evalJobId(id, queue, task), ...evalJobOptions(this.#options.attempts) });
      owned.enqueued.add(job);
    };
    for (const taskId of tasks.keys()) if (!screened.has(taskId) && !failed.has(`eval-probes:${taskId}`)) await ensure('eval-probes', taskId);
    for (const probeId of probeIds) {
      for (let m = 0; m < spec.models.length; m++) {
        const task = answerId(probeId, m);
        if (!answerIds.has(task)) {
          if (!failed.has(`eval-answers:${task}`)) await ensure('eval-answers', task);
        } else if (!scoreIds.has(task) && !failed.has(`eval-judge:${task}`)) await ensure('eval-judge', task);
      }
    }
    for (const job of owned.enqueued) {
      const [queue, task] = [job.slice(0, job.indexOf(':')), job.slice(job.indexOf(':') + 1)];
      const done = queue === 'eval-probes' ? screened.has(task) : queue === 'eval-answers' ? answerIds.has(task) : scoreIds.has(task);
      if (done || failed.has(job)) owned.enqueued.delete(job);
    }
    if (open > 0) {
      if (Date.now() - owned.reconciledAt >= this.#options.reconcileMs) await this.#reconcile(id, owned);
      return;
    }
    await this.#finish(id, owned, failed.size);
  }

  /**
   * Tasks added but without a result for a while are compared with BullMQ: a job that vanished
   * is added again at the next step; one BullMQ failed without the worker recording it (it
   * stalled too often) is recorded as failed, so the eval does not wait for it forever.
   */
  async #reconcile(id: string, owned: Owned): Promise<void> {
    owned.reconciledAt = Date.now();
    for (const job of [...owned.enqueued]) {
      const at = job.indexOf(':');
      const queue = job.slice(0, at) as EvalQueueName;
      const task = job.slice(at + 1);
      const state = await this.#options.queues[queue].getJobState(evalJobId(id, queue, task));
      if (state === 'unknown') owned.enqueued.delete(job);
      else if (state === 'failed') await this.store.putOnce(this.store.keys(id).failed, job, { error: 'failed in its queue (stalled or gave up)' });
    }
  }

  async #finish(id: string, owned: Owned, failures: number): Promise<void> {
    const { store } = this;
    const keys = store.keys(id);
    const { spec } = await store.get(id);
    const [probes, verdicts, screened, drafts, answers, tasks] = await Promise.all([
      store.readHash<Probe>(keys.probes),
      store.readHash<Verdict>(keys.scores),
      store.readHash<ScreenRecord>(keys.screened),
      store.readHash<{ usage?: CallUsage }>(keys.drafts),
      store.readHash<{ text?: string; usage?: CallUsage }>(keys.answers),
      store.readHash<ProbeTask>(keys.probeTasks),
    ]);
    const cost: CallUsage = { calls: 0, promptTokens: 0, outputTokens: 0, costUsd: 0, cacheHits: 0 };
    for (const hash of [drafts, answers, verdicts]) for (const value of hash.values()) addUsage(cost, value.usage);
    let written = 0;
    let dropped = 0;
    let regenerated = 0;
    const examples: ScreenRecord['matches'] = [];
    for (const [taskId, screen] of screened) {
      written += screen.written;
      dropped += screen.dropped;
      if ((tasks.get(taskId)?.generation ?? 0) > 0) regenerated += screen.kept;
      examples.push(...screen.matches.slice(0, 5 - examples.length));
    }
    const report = buildEvalReport({
      spec,
      probes,
      verdicts,
      failedAnswers: failures,
      counts: { written, kept: probes.size, droppedNotHeldOut: dropped, regenerated },
      cost,
      answers: new Map([...answers].map(([answerId, answer]) => [answerId, answer.text ?? ''])),
    });
    const heldOut = { runId: spec.runId ?? null, trainingPrompts: owned.training?.size ?? 0, dropped, regenerated, examples };
    const full = { ...report, heldOut };
    if (!(await store.fencedSet(id, owned.token, [[keys.meta, 'report', JSON.stringify(full)]]))) return this.#letGo(id);
    const judged = report.answers.judged;
    if (judged === 0) await store.transition(id, ['running'], 'failed', { error: probes.size === 0 ? 'no probe was written' : 'no answer was judged' });
    else await store.transition(id, ['running'], 'completed');
    this.#options.logger.info({ evalId: id, judged, failures, dropped }, 'eval finished');
    await this.#letGo(id);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.#timer = undefined;
      try {
        await this.#ticking;
      } catch {
        // A failed last tick changes nothing at close.
      }
      await this.#leases.close();
    })();
    return this.#closing;
  }
}
