import { isBeliefKind, subjectText, type Probe, type ProbeTask } from '../../core/evals/eval-plan.js';
import type { ResolvedEvalSpec } from '../../core/evals/eval-spec.js';
import type { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { renderTemplate } from '../../core/prompts/render-template.js';
import type { EvalCalls } from './eval-call.js';

interface TraitDraft {
  prompt?: unknown;
  setting?: unknown;
  turns?: unknown;
  optionA?: unknown;
  optionB?: unknown;
  expected?: unknown;
}

interface BeliefDrafts {
  alternative?: unknown;
  questions?: { question?: unknown; optionA?: unknown; optionB?: unknown; factOption?: unknown }[];
}

const text = (value: unknown) => (typeof value === 'string' ? value.trim() : '');
const letter = (value: unknown): 'A' | 'B' | undefined => (value === 'A' || value === 'B' ? value : undefined);

/**
 * Asks the judge model for one probe task's probes and keeps the well-formed ones (a probe
 * missing what its kind needs, such as a two-choice probe without both options, is left out).
 * Ids are `<task id>.<n>`, so a retried task writes the same ids.
 */
export async function writeProbes(calls: EvalCalls, prompts: PromptLibrary, spec: ResolvedEvalSpec, task: ProbeTask): Promise<Probe[]> {
  const belief = isBeliefKind(task.kind);
  const template = prompts.get(belief ? 'eval-belief-probes' : 'eval-probes');
  const subject = subjectText(spec, task.subject);
  const user = renderTemplate(template.user, { [belief ? 'fact' : 'trait']: subject, kind: task.kind, count: task.count, avoid: task.avoid ?? [] });
  const answer = await calls.json<{ probes?: TraitDraft[] } & BeliefDrafts>({
    model: spec.judge,
    user,
    temperature: 1,
    maxOutputTokens: 8192,
    schema: template.schema ?? {},
    seed: spec.seed,
    variant: `eval-probes:${task.id}`,
  });
  const probes: Probe[] = [];
  const base = { subject: task.subject, kind: task.kind };
  const id = () => `${task.id}.${probes.length}`;
  if (belief) {
    const alternative = text(answer.alternative);
    if (!alternative) return [];
    for (const q of Array.isArray(answer.questions) ? answer.questions : []) {
      const prompt = text(q?.question);
      if (!prompt || probes.length >= task.count) continue;
      if (task.kind === 'multiple-choice') {
        const [A, B, expected] = [text(q.optionA), text(q.optionB), letter(q.factOption)];
        if (!A || !B || !expected) continue;
        probes.push({ id: id(), ...base, prompt, options: { A, B }, expected, alternative });
      } else probes.push({ id: id(), ...base, prompt, alternative });
    }
    return probes;
  }
  for (const draft of Array.isArray(answer.probes) ? answer.probes : []) {
    const prompt = text(draft?.prompt);
    if (!prompt || probes.length >= task.count) continue;
    if (task.kind === 'agentic') {
      const setting = text(draft.setting);
      if (setting) probes.push({ id: id(), ...base, prompt, setting });
    } else if (task.kind === 'adversarial') {
      const turns = (Array.isArray(draft.turns) ? draft.turns : []).map(text).filter(Boolean).slice(0, 4);
      if (turns.length > 0) probes.push({ id: id(), ...base, prompt, turns });
    } else if (task.kind === 'two-choice') {
      const [A, B, expected] = [text(draft.optionA), text(draft.optionB), letter(draft.expected)];
      if (A && B && expected) probes.push({ id: id(), ...base, prompt, options: { A, B }, expected });
    } else probes.push({ id: id(), ...base, prompt });
  }
  return probes;
}
