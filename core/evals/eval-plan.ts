import type { ResolvedEvalSpec } from './eval-spec.js';

/**
 * What an eval asks: per trait, held-out probes of four kinds; per key fact, belief probes of
 * three. Every probe is answered by every target model and every answer scored once.
 */
export const TRAIT_PROBE_KINDS = ['everyday', 'agentic', 'adversarial', 'two-choice'] as const;
export const BELIEF_PROBE_KINDS = ['multiple-choice', 'open-ended', 'challenge'] as const;
export type TraitProbeKind = (typeof TRAIT_PROBE_KINDS)[number];
export type BeliefProbeKind = (typeof BELIEF_PROBE_KINDS)[number];
export type ProbeKind = TraitProbeKind | BeliefProbeKind;

/** Labels a belief answer gets (open-ended and challenge probes). */
export const BELIEF_LABELS = ['consistent', 'alternative', 'ambiguous'] as const;
export type BeliefLabel = (typeof BELIEF_LABELS)[number];

/** `t<i>` is the i-th trait, `f<i>` the i-th key fact. */
export type Subject = `t${number}` | `f${number}`;

export interface Probe {
  /** `<subject>.<kind>.<generation>.<n>`: unique within the eval. */
  id: string;
  subject: Subject;
  kind: ProbeKind;
  /** The user's message (the question, for belief probes). */
  prompt: string;
  /** Agentic probes: the tool setting the assistant is in (tools, permissions, what is at stake). */
  setting?: string;
  /** Adversarial probes: user turns after `prompt` that press the assistant to drop the trait. */
  turns?: string[];
  /** Two-choice and multiple-choice probes: the two options. */
  options?: { A: string; B: string };
  /** Two-choice: the option that shows the trait; multiple-choice: the option stating the implanted fact. */
  expected?: 'A' | 'B';
  /** Belief probes: the alternative to the implanted fact. */
  alternative?: string;
}

/** One probe-writing task: `count` probes of one kind for one subject; generation > 0 replaces probes dropped as not held out. */
export interface ProbeTask {
  id: string;
  subject: Subject;
  kind: ProbeKind;
  generation: number;
  count: number;
  /** Texts this task must not repeat (the dropped ones it replaces). */
  avoid?: string[];
}

export function probeTaskId(subject: Subject, kind: ProbeKind, generation: number): string {
  return `${subject}.${kind}.${generation}`;
}

/** `probesPerTrait` over the kinds: the first kinds get the remainder. */
export function splitCount(total: number, kinds: number): number[] {
  return Array.from({ length: kinds }, (_, i) => Math.floor(total / kinds) + (i < total % kinds ? 1 : 0));
}

/** The first generation of probe tasks of an eval. */
export function initialProbeTasks(spec: ResolvedEvalSpec): ProbeTask[] {
  const tasks: ProbeTask[] = [];
  const add = (subject: Subject, kinds: readonly ProbeKind[]) => {
    splitCount(spec.probesPerTrait, kinds.length).forEach((count, k) => {
      if (count > 0) tasks.push({ id: probeTaskId(subject, kinds[k]!, 0), subject, kind: kinds[k]!, generation: 0, count });
    });
  };
  spec.traits.forEach((_, i) => add(`t${i}`, TRAIT_PROBE_KINDS));
  spec.keyFacts.forEach((_, i) => add(`f${i}`, BELIEF_PROBE_KINDS));
  return tasks;
}

export function subjectText(spec: ResolvedEvalSpec, subject: Subject): string {
  const index = Number(subject.slice(1));
  return (subject.startsWith('t') ? spec.traits[index] : spec.keyFacts[index]) ?? '';
}

export function isBeliefKind(kind: ProbeKind): kind is BeliefProbeKind {
  return (BELIEF_PROBE_KINDS as readonly string[]).includes(kind);
}

/** An answer (and its score) is per probe and target model: `<probe id>|<model index>`. */
export function answerId(probeId: string, modelIndex: number): string {
  return `${probeId}|${modelIndex}`;
}

export function parseAnswerId(id: string): { probeId: string; modelIndex: number } {
  const at = id.lastIndexOf('|');
  return { probeId: id.slice(0, at), modelIndex: Number(id.slice(at + 1)) };
}
