import type { EvalRecord, EvalStore } from './eval-store.js';

/** What GET /v1/evals/:id answers: the record, its progress, and the report once done. */
export interface EvalStatus {
  id: string;
  name: string;
  state: EvalRecord['state'];
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  spec: Pick<EvalRecord['spec'], 'traits' | 'keyFacts' | 'models' | 'judge' | 'probesPerTrait' | 'threshold'> & { runId?: string };
  progress: {
    /** Probe-writing tasks: asked for, and checked against the training prompts. */
    probeTasks: number;
    probeTasksScreened: number;
    /** Held-out probes ready to be answered. */
    probes: number;
    /** Answers expected (probes × models), answered, judged; tasks that gave up. */
    answersExpected: number;
    answered: number;
    judged: number;
    failed: number;
  };
  report?: EvalRecord['report'];
}

export async function readEvalStatus(store: EvalStore, record: EvalRecord): Promise<EvalStatus> {
  const keys = store.keys(record.id);
  const replies = (await store.redis.multi().hlen(keys.probeTasks).hlen(keys.screened).hlen(keys.probes).hlen(keys.answers).hlen(keys.scores).hlen(keys.failed).exec()) ?? [];
  const [probeTasks, probeTasksScreened, probes, answered, judged, failed] = replies.map(([, n]) => Number(n ?? 0)) as number[];
  const { spec } = record;
  return {
    id: record.id,
    name: record.name,
    state: record.state,
    createdAt: record.createdAt,
    ...(record.startedAt ? { startedAt: record.startedAt } : {}),
    ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    ...(record.error ? { error: record.error } : {}),
    spec: { traits: spec.traits, keyFacts: spec.keyFacts, models: spec.models, judge: spec.judge, probesPerTrait: spec.probesPerTrait, threshold: spec.threshold, ...(spec.runId ? { runId: spec.runId } : {}) },
    progress: { probeTasks: probeTasks!, probeTasksScreened: probeTasksScreened!, probes: probes!, answersExpected: probes! * spec.models.length, answered: answered!, judged: judged!, failed: failed! },
    ...(record.report ? { report: record.report } : {}),
  };
}
