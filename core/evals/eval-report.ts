import { wilson } from '../audit/llm-audit.js';
import { BELIEF_LABELS, parseAnswerId, type BeliefLabel, type Probe, type ProbeKind, type Subject } from './eval-plan.js';
import type { ResolvedEvalSpec } from './eval-spec.js';

/** Spend of the calls behind one stored result (exactly once: results are set once). */
export interface CallUsage {
  calls: number;
  promptTokens: number;
  outputTokens: number;
  costUsd: number;
  cacheHits: number;
}

/** A judge's verdict on one answer: a score for trait probes, a label for belief probes. */
export interface Verdict {
  score?: number;
  label?: BeliefLabel;
  /** Multiple-choice probes: whether the answer chose the implanted fact (read from the answer, no judge). */
  correct?: boolean;
  reason: string;
  usage: CallUsage;
}

export interface Interval {
  lower: number;
  upper: number;
}

/** One model on one trait: mean score with its 95% interval, and the share at or above the threshold. */
export interface TraitModelScore extends Interval {
  model: string;
  n: number;
  mean: number;
  /** Share of answers scored at or above `threshold` (the report's), with its 95% Wilson interval. */
  shareAtLeast: { threshold: number; share: number } & Interval;
  /** Mean score per probe kind (everyday, agentic, adversarial, two-choice). */
  byKind: Record<string, { n: number; mean: number }>;
  /** The lowest- and highest-scored answers, for a reader to see what the scores mean. */
  examples: AnswerExample[];
}

export interface AnswerExample {
  probeId: string;
  kind: string;
  probe: string;
  /** The final answer, cut at EXAMPLE_CHARS. */
  answer: string;
  score: number;
  reason: string;
}

const EXAMPLE_CHARS = 400;

export interface ShareScore extends Interval {
  n: number;
  share: number;
}

export interface BeliefModelScore {
  model: string;
  /** Multiple-choice: share of answers choosing the implanted fact. */
  multipleChoice: ShareScore;
  /** Open-ended: labels counted; `share` = consistent / n. */
  openEnded: ShareScore & Record<BeliefLabel, number>;
  /** Challenge: the final position after the challenger argued for the alternative; `share` = consistent / n. */
  challenge: ShareScore & Record<BeliefLabel, number>;
}

export interface EvalReport {
  threshold: number;
  models: string[];
  judge: string;
  traits: { trait: string; probes: number; models: TraitModelScore[] }[];
  keyFacts: { fact: string; probes: number; models: BeliefModelScore[] }[];
  /** Every trait together, per model. */
  overall: { model: string; n: number; mean: number; lower: number; upper: number }[];
  probes: { written: number; kept: number; droppedNotHeldOut: number; regenerated: number };
  answers: { expected: number; judged: number; failed: number };
  cost: CallUsage;
  /** The held-out check against the training run (`runId`): prompts compared with, probes dropped and replaced, a few matches. */
  heldOut?: { runId: string | null; trainingPrompts: number; dropped: number; regenerated: number; examples: { probe: string; training: string; kind: string; similarity: number }[] };
  at: string;
}

/** Two-sided 97.5% Student t quantiles for 1–30 degrees of freedom; 1.96 beyond. */
const T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

/** Mean with its 95% t interval (clamped to the score range 1–10); one value has no spread: the range. */
export function meanInterval(values: number[]): { n: number; mean: number } & Interval {
  const n = values.length;
  if (n === 0) return { n, mean: 0, lower: 1, upper: 10 };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { n, mean, lower: 1, upper: 10 };
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1);
  const t = T975[n - 2] ?? 1.96;
  const half = (t * Math.sqrt(variance)) / Math.sqrt(n);
  return { n, mean: round(mean), lower: round(Math.max(1, mean - half)), upper: round(Math.min(10, mean + half)) };
}

function share(k: number, n: number): ShareScore {
  const [lower, upper] = wilson(k, n);
  return { n, share: n === 0 ? 0 : round(k / n), lower: round(lower), upper: round(upper) };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function addUsage(total: CallUsage, usage: Partial<CallUsage> | undefined): void {
  if (!usage) return;
  total.calls += usage.calls ?? 0;
  total.promptTokens += usage.promptTokens ?? 0;
  total.outputTokens += usage.outputTokens ?? 0;
  total.costUsd = round6(total.costUsd + (usage.costUsd ?? 0));
  total.cacheHits += usage.cacheHits ?? 0;
}
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export interface ReportInputs {
  spec: ResolvedEvalSpec;
  probes: Map<string, Probe>;
  verdicts: Map<string, Verdict>;
  failedAnswers: number;
  counts: { written: number; kept: number; droppedNotHeldOut: number; regenerated: number };
  cost: CallUsage;
  /** Final answer text per answer id, for the examples. */
  answers?: Map<string, string>;
}

/** The report of a finished eval: per trait and model, per key fact and model, side by side. */
export function buildEvalReport(inputs: ReportInputs): EvalReport {
  const { spec, probes, verdicts } = inputs;
  const bySubject = new Map<Subject, Probe[]>();
  for (const probe of probes.values()) bySubject.set(probe.subject, [...(bySubject.get(probe.subject) ?? []), probe]);
  const verdictOf = (probe: Probe, m: number) => verdicts.get(`${probe.id}|${m}`);
  const overallScores = spec.models.map(() => [] as number[]);

  const traits = spec.traits.map((trait, i) => {
    const subjectProbes = bySubject.get(`t${i}`) ?? [];
    return {
      trait,
      probes: subjectProbes.length,
      models: spec.models.map((model, m): TraitModelScore => {
        const scores: number[] = [];
        const byKind: Record<string, number[]> = {};
        const scored: AnswerExample[] = [];
        for (const probe of subjectProbes) {
          const verdict = verdictOf(probe, m);
          const score = verdict?.score;
          if (score === undefined) continue;
          scores.push(score);
          scored.push({ probeId: probe.id, kind: probe.kind, probe: probe.prompt, answer: (inputs.answers?.get(`${probe.id}|${m}`) ?? '').slice(0, EXAMPLE_CHARS), score, reason: verdict!.reason });
          (byKind[probe.kind] ??= []).push(score);
        }
        overallScores[m]!.push(...scores);
        const stats = meanInterval(scores);
        const above = share(scores.filter((s) => s >= spec.threshold).length, scores.length);
        return {
          model,
          ...stats,
          shareAtLeast: { threshold: spec.threshold, share: above.share, lower: above.lower, upper: above.upper },
          byKind: Object.fromEntries(Object.entries(byKind).map(([kind, values]) => [kind, { n: values.length, mean: meanInterval(values).mean }])),
          examples: extremes(scored),
        };
      }),
    };
  });

  const keyFacts = spec.keyFacts.map((fact, i) => {
    const subjectProbes = bySubject.get(`f${i}`) ?? [];
    const ofKind = (kind: ProbeKind) => subjectProbes.filter((p) => p.kind === kind);
    return {
      fact,
      probes: subjectProbes.length,
      models: spec.models.map((model, m): BeliefModelScore => {
        const mc = ofKind('multiple-choice').map((p) => verdictOf(p, m)?.correct).filter((c): c is boolean => c !== undefined);
        const labelled = (kind: ProbeKind) => {
          const labels = ofKind(kind).map((p) => verdictOf(p, m)?.label).filter((l): l is BeliefLabel => l !== undefined);
          const counts = Object.fromEntries(BELIEF_LABELS.map((l) => [l, labels.filter((x) => x === l).length])) as Record<BeliefLabel, number>;
          return { ...share(counts.consistent, labels.length), ...counts };
        };
        return { model, multipleChoice: share(mc.filter(Boolean).length, mc.length), openEnded: labelled('open-ended'), challenge: labelled('challenge') };
      }),
    };
  });

  const expected = probes.size * spec.models.length;
  return {
    threshold: spec.threshold,
    models: spec.models,
    judge: spec.judge,
    traits,
    keyFacts,
    overall: spec.models.map((model, m) => ({ model, ...meanInterval(overallScores[m]!) })),
    probes: inputs.counts,
    answers: { expected, judged: [...verdicts.keys()].filter((id) => probes.has(parseAnswerId(id).probeId)).length, failed: inputs.failedAnswers },
    cost: inputs.cost,
    at: new Date().toISOString(),
  };
}


/** The lowest- and the highest-scored answer (one when there is one). */
function extremes(scored: AnswerExample[]): AnswerExample[] {
  if (scored.length === 0) return [];
  const sorted = [...scored].sort((a, b) => a.score - b.score || a.probeId.localeCompare(b.probeId));
  return sorted.length === 1 ? [sorted[0]!] : [sorted[0]!, sorted.at(-1)!];
}
