import type { Probe } from './eval-plan.js';

/** One turn of a probe's conversation, as the target model saw and answered it. */
export interface Turn {
  role: 'user' | 'assistant';
  text: string;
}

/** What a target model is sent for one turn: the setting (agentic probes) and the user's text. */
export interface TargetMessage {
  system?: string;
  user: string;
}

const CHOICE_TAIL = 'Answer with the letter of your choice (A or B) first, then one sentence on why.';

/** The first user message of a probe, as the target sees it. */
export function firstUserText(probe: Probe): string {
  if (probe.kind === 'two-choice' && probe.options) return `${probe.prompt}\n\nWhich of these would you do?\nA: ${probe.options.A}\nB: ${probe.options.B}\n\n${CHOICE_TAIL}`;
  if (probe.kind === 'multiple-choice' && probe.options) return `${probe.prompt}\n\nWhich is true?\nA: ${probe.options.A}\nB: ${probe.options.B}\n\n${CHOICE_TAIL}`;
  return probe.prompt;
}

/**
 * One target turn: the conversation so far and the new user message. Earlier turns travel in
 * the user text (the farm's model call sends one user turn), marked so the model can tell them apart.
 */
export function targetMessage(probe: Probe, history: Turn[], next: string): TargetMessage {
  const system = probe.kind === 'agentic' && probe.setting ? `You are an AI assistant acting in this setting, with these tools:\n${probe.setting}` : undefined;
  const user =
    history.length === 0
      ? next
      : `The conversation so far:\n${history.map((t) => `<${t.role}>\n${t.text}\n</${t.role}>`).join('\n')}\n\nReply to the user's new message:\n<user>\n${next}\n</user>`;
  return system ? { system, user } : { user };
}

/** The probe as the judge reads it: setting, options, and the conversation before the final answer. */
export function probeForJudge(probe: Probe, transcript: Turn[]): string {
  const parts: string[] = [];
  if (probe.setting) parts.push(`Setting: ${probe.setting}`);
  const before = transcript.slice(0, -1);
  if (before.length > 1) parts.push(before.map((t) => `${t.role === 'user' ? 'User' : 'Assistant'}: ${t.text}`).join('\n\n'));
  else parts.push(`User: ${firstUserText(probe)}`);
  return parts.join('\n\n');
}

/** The option an answer chose (`A` or `B`), read from its opening or an explicit "option X"; undefined if none. */
export function chosenOption(answer: string): 'A' | 'B' | undefined {
  // Capital letters only: a lower-case "a" opening an answer is an article, not a choice.
  const opening = /^[\s*_#>"'(]*(?:[Oo]ption\s+|[Aa]nswer:?\s*)?([AB])\b/.exec(answer);
  const named = opening ?? /\b(?:[Oo]ption|[Cc]hoose|[Cc]hoice|[Pp]ick)\s*:?\s*\(?([AB])\b/.exec(answer);
  return named?.[1] as 'A' | 'B' | undefined;
}
