import type { Job } from 'bullmq';
import { answerId, isBeliefKind, parseAnswerId, subjectText, type Probe, type ProbeTask } from '../../core/evals/eval-plan.js';
import type { EvalQueueName, EvalTaskData } from '../../core/evals/eval-queues.js';
import type { Verdict } from '../../core/evals/eval-report.js';
import type { ResolvedEvalSpec } from '../../core/evals/eval-spec.js';
import type { EvalStore } from '../../core/evals/eval-store.js';
import type { Turn } from '../../core/evals/probe-messages.js';
import type { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { EvalCalls, type EvalCallDeps } from './eval-call.js';
import { answerProbe } from './answer-probe.js';
import { judgeAnswer } from './judge-answer.js';
import { writeProbes } from './write-probes.js';

export interface EvalTaskDeps extends EvalCallDeps {
  store: EvalStore;
  prompts: PromptLibrary;
}

/** A stored answer: the final text, the whole conversation, and the spend of the calls that made it. */
export interface StoredAnswer {
  text: string;
  transcript: Turn[];
  usage: EvalCalls['usage'];
}

/** What a probe task stores: the probes as written, before the owner's held-out check. */
export interface StoredDrafts {
  probes: Probe[];
  usage: EvalCalls['usage'];
}

/**
 * The three eval task kinds. Each reads what it needs from the eval's hashes, makes its calls,
 * and sets its one result once (HSETNX): a task retried after a crash finds its result there and
 * stops, or, if it died before storing, asks again, and the response cache answers the calls it
 * had already made. A task of an eval that ended does nothing.
 */
export function createEvalProcessor(deps: EvalTaskDeps) {
  const specs = new Map<string, ResolvedEvalSpec>();
  const specOf = async (evalId: string) => {
    let spec = specs.get(evalId);
    if (!spec) {
      spec = (await deps.store.get(evalId)).spec;
      specs.set(evalId, spec);
      if (specs.size > 64) specs.delete(specs.keys().next().value!);
    }
    return spec;
  };

  return async (queue: EvalQueueName, job: Job<EvalTaskData>, token?: string): Promise<string> => {
    const { evalId, task } = job.data;
    const state = await deps.store.state(evalId);
    if (state !== 'running') return 'skipped';
    const spec = await specOf(evalId);
    const keys = deps.store.keys(evalId);
    const calls = new EvalCalls(deps, job, token);

    if (queue === 'eval-probes') {
      if (await deps.store.redis.hexists(keys.drafts, task)) return 'present';
      const probeTask = JSON.parse((await deps.store.redis.hget(keys.probeTasks, task)) ?? 'null') as ProbeTask | null;
      if (!probeTask) return 'unknown task';
      const probes = await writeProbes(calls, deps.prompts, spec, probeTask);
      await deps.store.putOnce(keys.drafts, task, { probes, usage: calls.usage } satisfies StoredDrafts);
      return 'done';
    }

    const { probeId, modelIndex } = parseAnswerId(task);
    const probe = JSON.parse((await deps.store.redis.hget(keys.probes, probeId)) ?? 'null') as Probe | null;
    if (!probe) return 'unknown probe';

    if (queue === 'eval-answers') {
      if (await deps.store.redis.hexists(keys.answers, task)) return 'present';
      const transcript = await answerProbe(calls, deps.prompts, spec, probe, spec.models[modelIndex]!, task);
      await deps.store.putOnce(keys.answers, task, { text: transcript.at(-1)?.text ?? '', transcript, usage: calls.usage } satisfies StoredAnswer);
      return 'done';
    }

    if (await deps.store.redis.hexists(keys.scores, task)) return 'present';
    const answer = JSON.parse((await deps.store.redis.hget(keys.answers, answerId(probeId, modelIndex))) ?? 'null') as StoredAnswer | null;
    if (!answer) return 'no answer';
    const verdict = await judgeAnswer(calls, deps.prompts, spec, probe, answer.transcript, subjectText(spec, probe.subject), task);
    await deps.store.putOnce(keys.scores, task, { ...verdict, usage: calls.usage } satisfies Verdict);
    return isBeliefKind(probe.kind) ? 'labelled' : 'scored';
  };
}
