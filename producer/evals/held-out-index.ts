import { hash32 } from '../../core/filters/text-features.js';

/** Lower case, Unicode-normalised, punctuation and runs of space folded: two texts that differ only there are equal. */
export function normalizePrompt(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** Word bigrams of a normalised text (its words when it has one). */
function bigrams(words: string[]): Set<string> {
  if (words.length < 2) return new Set(words);
  const out = new Set<string>();
  for (let i = 0; i + 1 < words.length; i++) out.add(`${words[i]} ${words[i + 1]}`);
  return out;
}

/** Hashed word 4-grams (the whole text when shorter): a near-copy of a prompt shares most of them. */
function shingleHashes(words: string[]): number[] {
  if (words.length < 4) return [hash32(words.join(' '))];
  const out: number[] = [];
  for (let i = 0; i + 4 <= words.length; i++) out.push(hash32(words.slice(i, i + 4).join(' ')));
  return [...new Set(out)];
}

function jaccard(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const x of a) if (b.has(x)) shared++;
  const union = a.size + b.size - shared;
  return union === 0 ? 1 : shared / union;
}

export interface HeldOutMatch {
  kind: 'exact' | 'near';
  similarity: number;
  training: string;
}

/** A shingle shared by more texts than this is too common to say anything (and is not followed). */
const MAX_POSTINGS = 500;

/**
 * The training prompts of a run, for telling whether a probe is held out: equal after
 * normalisation, or a near-duplicate (word-bigram Jaccard at or above `threshold`, found through
 * a shared word 4-gram, then measured). In memory, in the eval's owner: about 200 bytes a prompt.
 */
export class HeldOutIndex {
  readonly #exact = new Map<string, number>();
  readonly #texts: string[] = [];
  readonly #postings = new Map<number, number[]>();

  constructor(readonly threshold = 0.6) {}

  get size(): number {
    return this.#texts.length;
  }

  add(text: string): void {
    const normal = normalizePrompt(text);
    if (!normal || this.#exact.has(normal)) return;
    const id = this.#texts.push(normal) - 1;
    this.#exact.set(normal, id);
    for (const h of shingleHashes(normal.split(' '))) {
      const list = this.#postings.get(h);
      if (!list) this.#postings.set(h, [id]);
      else if (list.length <= MAX_POSTINGS) list.push(id);
    }
  }

  match(text: string): HeldOutMatch | undefined {
    const normal = normalizePrompt(text);
    const exact = this.#exact.get(normal);
    if (exact !== undefined) return { kind: 'exact', similarity: 1, training: this.#texts[exact]! };
    const words = normal.split(' ');
    const mine = bigrams(words);
    const seen = new Set<number>();
    let best: HeldOutMatch | undefined;
    for (const h of shingleHashes(words)) {
      const list = this.#postings.get(h);
      if (!list || list.length > MAX_POSTINGS) continue;
      for (const id of list) {
        if (seen.has(id)) continue;
        seen.add(id);
        const similarity = jaccard(mine, bigrams(this.#texts[id]!.split(' ')));
        if (similarity >= this.threshold && (!best || similarity > best.similarity)) best = { kind: 'near', similarity, training: this.#texts[id]! };
      }
    }
    return best;
  }
}
