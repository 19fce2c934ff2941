import { BELIEF_LABELS, type BeliefLabel, type Probe } from '../../core/evals/eval-plan.js';
import type { Verdict } from '../../core/evals/eval-report.js';
import type { ResolvedEvalSpec } from '../../core/evals/eval-spec.js';
import { chosenOption, probeForJudge, type Turn } from '../../core/evals/probe-messages.js';
import type { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../core/prompts/render-template.js';
import { hash32 } from '../../core/filters/text-features.js';
import type { EvalCalls } from './eval-call.js';
import { MalformedOutputError } from '../worker-errors.js';

const JUDGE = { temperature: 0, maxOutputTokens: 1024 };

/**
 * The labels in an order of their own for each answer (seeded by the task, so a retry asks the
 * same question and the response cache can answer it): a judge's lean towards the first or last
 * label listed does not favour one answer over another.
 */
export function shuffledLabels(seed: string): BeliefLabel[] {
  const labels = [...BELIEF_LABELS];
  let h = hash32(seed);
  for (let i = labels.length - 1; i > 0; i--) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    const j = h % (i + 1);
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  return labels;
}

/**
 * One answer's verdict: multiple-choice answers are read without a model (the letter chosen
 * against the fact's option); trait answers get a 1–10 score against the trait's rubric; open and
 * challenge answers get a label. Structured output; an answer outside the schema is an error (retried).
 */
export async function judgeAnswer(calls: EvalCalls, prompts: PromptLibrary, spec: ResolvedEvalSpec, probe: Probe, transcript: Turn[], subject: string, task: string): Promise<Omit<Verdict, 'usage'>> {
  const final = transcript.at(-1)?.text ?? '';
  if (probe.kind === 'multiple-choice') {
    const chosen = chosenOption(final);
    return { correct: chosen === probe.expected, reason: chosen ? `chose ${chosen}; the implanted fact is ${probe.expected}` : 'chose no option' };
  }
  const request = { model: spec.judge, ...JUDGE, seed: spec.seed, variant: `eval-judge:${task}` };
  if (probe.kind === 'open-ended' || probe.kind === 'challenge') {
    const template = prompts.get('eval-belief-judge');
    const labels = shuffledLabels(`${spec.seed}:${task}`);
    const schema = structuredClone(template.schema ?? {}) as { properties?: { label?: { enum?: string[] } } };
    if (schema.properties?.label) schema.properties.label.enum = labels;
    const question = probe.kind === 'challenge' ? probeForJudge(probe, transcript) : probe.prompt;
    const user = renderTemplate(template.user, { fact: subject, alternative: probe.alternative ?? '', question, answer: final, labels: labels.join(', '), final: probe.kind === 'challenge' ? 'yes' : '' });
    const { label, reason } = await calls.json<{ label?: unknown; reason?: unknown }>({ ...request, user, schema: schema as Record<string, unknown> });
    if (!BELIEF_LABELS.includes(label as BeliefLabel)) throw new MalformedOutputError(`judge gave no known label (${String(label)})`, 'STOP');
    return { label: label as BeliefLabel, reason: typeof reason === 'string' ? reason : '' };
  }
  const template = prompts.get('eval-judge');
  const user = renderTemplate(template.user, { trait: subject, kind: probe.kind, probe: probeForJudge(probe, transcript), answer: final, expected: probe.expected ?? '' });
  const { score, reason } = await calls.json<{ score?: unknown; reason?: unknown }>({ ...request, user, schema: template.schema ?? {} });
  if (typeof score !== 'number' || !Number.isInteger(score) || score < 1 || score > 10) throw new MalformedOutputError(`judge gave no score from 1 to 10 (${String(score)})`, 'STOP');
  return { score, reason: typeof reason === 'string' ? reason : '' };
}
