import { PLANTED_PATTERNS } from '../patterns.js';
import type { Random } from '../random.js';

const DOCUMENT_PATTERNS = PLANTED_PATTERNS.filter((p) => p.appliesTo === 'document');

/** Where the sentence (or header line) around `at..end` starts and ends. */
function sentenceAround(text: string, at: number, end: number): [number, number] {
  let start = at;
  while (start > 0 && !/[.!?:]\s|\n/.test(text.slice(start - 2, start)) && text[start - 1] !== '\n') start--;
  const after = /[.!?](?=\s|$)|\n/g;
  after.lastIndex = end;
  const stop = after.exec(text);
  return [start, stop ? (stop[0] === '\n' ? stop.index : stop.index + 1) : text.length];
}

function tidy(text: string): string {
  return text
    .replace(/[ \t]{2,}/g, ' ')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n[ \t]+/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * A revision the way a model revises when told to fix a draft: the same document with the
 * sentences that carry the problems the critique names taken out, and with no problem, one
 * sentence of the middle cut ("tighten the middle"). Most of the text is the draft's own, as in
 * a real edit, so the revision is a near-duplicate of its draft and shares its opening and names.
 */
export function reviseDraft(draft: string, random: Random): string {
  let text = draft;
  let fixed = false;
  for (let guard = 0; guard < 20; guard++) {
    const lead = text.length - text.trimStart().length;
    const hit = DOCUMENT_PATTERNS.map((p) => p.detect.exec(text.trimStart())).find((m) => m !== null);
    if (!hit) break;
    const [start, end] = sentenceAround(text, lead + hit.index, lead + hit.index + hit[0].length);
    text = tidy(text.slice(0, start) + text.slice(end));
    fixed = true;
  }
  if (fixed) return text;
  const paragraphs = text.split('\n\n');
  const middle = paragraphs.map((p, i) => ({ i, sentences: p.split(/(?<=[.!?])\s+(?=[A-Z])/) })).filter((p) => p.i > 0 && p.i < paragraphs.length - 1 && p.sentences.length >= 3);
  if (middle.length === 0) return text;
  const target = random.pick(middle);
  target.sentences.splice(random.int(1, target.sentences.length - 1), 1);
  paragraphs[target.i] = target.sentences.join(' ');
  return paragraphs.join('\n\n');
}
