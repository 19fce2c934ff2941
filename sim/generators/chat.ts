import type { Random } from '../random.js';
import { paragraph, topicWords } from './prose.js';

const LEADS = ['Honestly,', 'Briefly:', 'Okay, so', 'Fair question:', 'Two things on', 'Start with', 'My read on', 'The short version on', 'Careful with', 'It helps to separate', 'Plainly, on', 'I would rethink', 'Think of', 'What matters for', 'Let us take'];
const TAILS = ['first.', 'before anything else.', 'is where people slip.', 'is the real question.', 'cuts both ways.', 'needs numbers, not vibes.', 'is less settled than it sounds.', 'has a cheap fix.', 'deserves a caveat.', 'is mostly about timing.'];

/** Openings vary in their first words, as real answers do, so no opening dominates a corpus. */
function opener(random: Random, topic: string[]): string {
  const a = topic.length > 0 ? random.pick(topic) : 'this';
  const b = topic.length > 1 ? random.pick(topic) : 'that';
  return `${random.pick(LEADS)} ${a} and ${b} ${random.pick(TAILS)}`;
}

/** An assistant's answer to a user message, plainly about what was asked. */
export function generateChatResponse(random: Random, prompt: string, trait: string): string {
  const topic = topicWords(`${prompt} ${trait}`).slice(0, 10);
  const paragraphs = Array.from({ length: random.int(1, 4) }, () => paragraph(random, topic, random.int(2, 4)));
  return `${opener(random, topic)} ${paragraphs.join('\n\n')}`;
}
