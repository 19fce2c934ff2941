/**
 * CPU time of the filters' in-process work per item, on documents of a given length (the issue's
 * budget is 0.3 ms for a 1,500-character document): the per-item rules (core/filters/item-rules.ts,
 * what RunFilters runs before any Redis call) and, reported beside them, the corpus gate's own
 * shaping of a text (corpus features and MinHash), which the gate does before its one Redis call.
 */
import { corpusFeatures } from '../../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../../core/filters/filter-spec.js';
import { createItemFilter } from '../../core/filters/item-rules.js';
import { minhash } from '../../core/filters/minhash.js';
import { generateDocument } from '../../sim/generators/document.js';
import { plantPatterns } from '../../sim/patterns.js';
import { defaultPatternRates } from '../../sim/options.js';
import { Random } from '../../sim/random.js';
import { DOC_TYPES } from '../../sim/vocabulary.js';

export interface FilterCost {
  chars: number;
  items: number;
  /** Median over passes of the mean per item, in ms. */
  itemRulesMs: number;
  corpusShapeMs: number;
  /** Both, item by item as a worker runs them (the shaping then reuses the rules' tokens). */
  perItemMs: number;
}

/** Simulator documents cut (at a word boundary) or extended to about `chars` characters. */
export function sampleDocuments(count: number, chars: number, seed = 7): string[] {
  const random = new Random(seed);
  const rates = defaultPatternRates();
  const one = () => plantPatterns(generateDocument(random, random.pick(DOC_TYPES), 'notes on budgets and ferries', 'The assistant says plainly what it does not know.'), 'document', rates, random).text;
  return Array.from({ length: count }, () => {
    let text = one();
    while (text.length < chars) text += `\n\n${one()}`;
    const cut = text.lastIndexOf(' ', chars);
    return text.slice(0, cut > chars * 0.9 ? cut : chars);
  });
}

export function measureFilterCost(universe: string, fact: string, { chars = 1500, items = 2000, passes = 7 } = {}): FilterCost {
  const spec = resolveFilterSpec({});
  const rules = createItemFilter(spec, universe);
  const docs = sampleDocuments(items, chars);
  // CPU time, not wall time: a busy neighbour on a 2-core machine would otherwise count here.
  const time = (work: (text: string) => unknown) => {
    const perItem: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const t0 = process.cpuUsage();
      for (const text of docs) work(text);
      const used = process.cpuUsage(t0);
      perItem.push((used.user + used.system) / 1e3 / docs.length);
    }
    // The first pass warms the JIT; the median of the rest resists a neighbour's burst.
    const rest = perItem.slice(1).sort((a, b) => a - b);
    return +rest[Math.floor(rest.length / 2)]!.toFixed(4);
  };
  const shape = (text: string) => {
    corpusFeatures(text, spec.corpus.openingWords, spec.corpus.maxShare.ngrams < 1);
    minhash(text);
  };
  return {
    chars,
    items,
    itemRulesMs: time((text) => rules({ kind: 'document', text, fact, finishReason: 'STOP' })),
    corpusShapeMs: time(shape),
    perItemMs: time((text) => {
      rules({ kind: 'document', text, fact, finishReason: 'STOP' });
      shape(text);
    }),
  };
}

// `node --import tsx bench/lib/filter-cost.ts`: just this measurement.
if (import.meta.url === `file://${process.argv[1]}`) {
  const facts = Array.from({ length: 10 }, (_, i) => `Aster, the assistant, keeps promise number ${i + 1}: it says plainly what it does not know about topic ${i + 1}.`);
  console.log(measureFilterCost(facts.map((f) => `- ${f}`).join('\n'), facts[0]!));
}
