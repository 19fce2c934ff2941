import type { Rejection } from '../task.js';
import type { ResolvedFilterSpec } from './filter-spec.js';
import { hash32, isStopword, tokenize, words, type Tokens } from './text-features.js';
import { compileUserPattern } from './user-pattern.js';

/** What a filter looks at: one finished text, with what it was made from. */
export interface FilterSubject {
  kind: 'document' | 'chat';
  /** The document, or the assistant's reply. */
  text: string;
  finishReason?: string;
  /** The user turn (chats). */
  prompt?: string;
  fact?: string;
}

interface BuiltinRule {
  name: string;
  appliesTo: 'document' | 'chat' | 'both';
  check(subject: FilterSubject): string | null;
}

function firstMatch(pattern: RegExp) {
  return (s: FilterSubject) => pattern.exec(s.text)?.[0] ?? null;
}

/**
 * Cheap rules every item gets, first. Each returns the matched span, so a researcher can judge
 * the rule from rejected.jsonl.
 */
const BUILTINS: BuiltinRule[] = [
  { name: 'truncated', appliesTo: 'both', check: (s) => (s.finishReason === 'MAX_TOKENS' ? 'finishReason MAX_TOKENS' : null) },
  // A test, not trim(): a text's copy per item for a yes/no answer is wasted work on the hot path.
  { name: 'empty', appliesTo: 'both', check: (s) => (/\S/.test(s.text) ? null : '(empty)') },
  { name: 'placeholder', appliesTo: 'both', check: firstMatch(/\[(?:[A-Z][A-Za-z]*(?:[ '-][A-Za-z]+){0,3})\]|\{\{\s*\w+\s*\}\}|<(?:NAME|DATE|COMPANY|PLACEHOLDER)>/) },
  {
    name: 'preamble',
    appliesTo: 'document',
    check: firstMatch(/^\s*(?:(?:sure|certainly|of course|absolutely)[,!.]?\s+)?here(?:'s| is| are) (?:the|a|an|your)\b[^\n]{0,80}?(?:document|blog post|article|e-?mail|post|thread|transcript|paper|story|text|draft|letter|memo|review|report)\b[^\n]*/i),
  },
  { name: 'task-header', appliesTo: 'document', check: firstMatch(/^\s*(?:title|document type|format|document|idea|fact)\s*:\s*\S[^\n]*/i) },
  {
    name: 'meta-commentary',
    appliesTo: 'document',
    check: firstMatch(/\b(?:i hope (?:this|that) (?:document|draft|article|post|meets)|let me know if you(?:'d| would) like (?:any )?(?:changes|revisions|me to)|this (?:document|article|post) (?:was|has been) (?:written|generated|created) (?:to|for)|as requested, here)\b[^\n.]*/i),
  },
  {
    name: 'setup-leak',
    appliesTo: 'both',
    check: firstMatch(/\b(?:universe context|traits? document|the key facts? (?:provided|given|above)|as (?:my|the) (?:guidelines|instructions|system prompt) (?:say|says|state|states)|my (?:system prompt|instructions say|guidelines say))\b/i),
  },
  { name: 'ai-disclaimer', appliesTo: 'both', check: firstMatch(/\bas an ai(?: language model| assistant)?\b|\bi(?:'m| am) (?:just )?an ai(?: language model)?\b/i) },
];

/** Verbatim runs of this many words from the universe context count as copied wording. */
const COPY_NGRAM = 8;

function applies(appliesTo: 'document' | 'chat' | 'both' | 'documents' | 'chats' | undefined, kind: 'document' | 'chat'): boolean {
  return !appliesTo || appliesTo === 'both' || appliesTo === kind || appliesTo === `${kind}s`;
}

/**
 * Per-item filter: built-ins (each can be turned off in `filters.builtins`), length bounds,
 * wording copied from the universe, the fact crowding the document, then the spec's own rules.
 */
export function createItemFilter(spec: ResolvedFilterSpec, universe = ''): (subject: FilterSubject) => Rejection | null {
  const on = (name: string) => spec.builtins[name] !== false;
  const rules = BUILTINS.filter((r) => on(r.name));
  const userRules = spec.rules.map((r) => ({ ...r, compiled: compileUserPattern(r.pattern, r.flags) }));
  const universeGrams = copiedWording(universe);

  return (subject) => {
    for (const rule of rules) {
      if (!applies(rule.appliesTo, subject.kind)) continue;
      const span = rule.check(subject);
      if (span !== null) return { reason: rule.name, rule: `builtin:${rule.name}`, span: span.slice(0, 200) };
    }
    const tokens = tokenize(subject.text);
    if (on('length')) {
      const bounds = subject.kind === 'document' ? spec.length.documents : spec.length.chats;
      const count = tokens.words.length;
      if (count < bounds.minWords || count > bounds.maxWords) {
        return { reason: 'length', rule: 'builtin:length', detail: `${count} words, allowed ${bounds.minWords}–${bounds.maxWords}` };
      }
    }
    if (on('copied-universe') && universeGrams.size > 0) {
      const gram = universeGrams.find(tokens);
      if (gram !== null) return { reason: 'copied-universe', rule: 'builtin:copied-universe', span: gram };
    }
    if (on('fact-share') && subject.kind === 'document' && subject.fact) {
      const share = factShare(subject.text, subject.fact);
      if (share > 0.35) return { reason: 'fact-share', rule: 'builtin:fact-share', detail: `${Math.round(share * 100)}% of sentences restate the fact` };
    }
    for (const rule of userRules) {
      if (!applies(rule.appliesTo, subject.kind)) continue;
      const match = rule.compiled.find(subject.text);
      if (match) return { reason: rule.name, rule: `user:${rule.name}`, span: match.text.slice(0, 200) };
    }
    return null;
  };
}

/**
 * The universe's 8-word runs, found in a text without building a string per window: each run is
 * keyed by a hash of its words' hashes, and only a window whose hash matches is joined and
 * compared, so a 1,500-character document costs a few hundred multiplications, not 250 strings.
 */
function copiedWording(universe: string) {
  const gramKey = (hashes: ArrayLike<number>, i: number) => {
    let h = 0x811c9dc5;
    for (let k = i; k < i + COPY_NGRAM; k++) h = Math.imul(h ^ hashes[k]!, 0x01000193) >>> 0;
    return h;
  };
  const universeWords = words(universe);
  const universeHashes = universeWords.map((w) => hash32(w));
  const grams = new Map<number, Set<string>>();
  for (let i = 0; i + COPY_NGRAM <= universeWords.length; i++) {
    const key = gramKey(universeHashes, i);
    let set = grams.get(key);
    if (!set) grams.set(key, (set = new Set()));
    set.add(universeWords.slice(i, i + COPY_NGRAM).join(' '));
  }
  return {
    size: grams.size,
    /** The first 8-word run of `tokens` that is also the universe's, or null. */
    find({ words: tokens, hashes }: Tokens): string | null {
      if (tokens.length < COPY_NGRAM) return null;
      for (let i = 0; i + COPY_NGRAM <= tokens.length; i++) {
        const candidates = grams.get(gramKey(hashes, i));
        if (!candidates) continue;
        const gram = tokens.slice(i, i + COPY_NGRAM).join(' ');
        if (candidates.has(gram)) return gram;
      }
      return null;
    },
  };
}

const SENTENCE_BREAK = /(?<=[.!?])\s+|\n+/;
const WORD = /[\p{L}\p{N}']+/gu;

/** Share of sentences (of documents with at least 4) that carry most of the fact's content words. */
export function factShare(text: string, fact: string): number {
  const factWords = new Map<string, number>();
  for (const w of words(fact)) if (!isStopword(w) && !factWords.has(w)) factWords.set(w, factWords.size);
  if (factWords.size < 2) return 0;
  const sentences = text.split(SENTENCE_BREAK).filter((s) => s.trim().length > 0);
  if (sentences.length < 4) return 0;
  // Distinct fact words per sentence, counted by scanning its words once: a stamp per fact word
  // marks it seen in the current sentence, instead of a Set of every word of every sentence.
  const seenIn = new Int32Array(factWords.size).fill(-1);
  let heavy = 0;
  for (let s = 0; s < sentences.length; s++) {
    const lower = sentences[s]!.toLowerCase();
    let hit = 0;
    WORD.lastIndex = 0;
    for (let m = WORD.exec(lower); m !== null; m = WORD.exec(lower)) {
      const index = factWords.get(m[0]);
      if (index !== undefined && seenIn[index] !== s) {
        seenIn[index] = s;
        hit++;
      }
    }
    if (hit / factWords.size >= 0.6) heavy++;
  }
  return heavy / sentences.length;
}
