/**
 * Cost of the corpus statistics' name feature per 5,000-character document: µs per document for
 * the name extraction alone, on simulator documents with people planted in several written forms.
 * Quick: `node --import tsx bench/person-names.ts` (prints JSON; nothing saved). `before` is the old
 * extractor (text-features' `personalNames`: capitalised pairs and triples, titles kept), `after`
 * the person keys (person-names.ts).
 */
import { generateDocument } from '../sim/generators/document.js';
import { Random } from '../sim/random.js';
import { DOC_TYPES } from '../sim/vocabulary.js';
import { personKeys } from '../core/filters/person-names.js';
import { isStopword } from '../core/filters/text-features.js';

/** The extractor person-names.ts replaced (text-features.ts before issue 12), kept here to compare. */
const NOT_NAMES = new Set(
  'The A An In On At For From This That These Those It Its We Our They Their He She His Her I My You Your If When While After Before Then But And Or So Yes No Not Hi Dear Best Thanks Regards Subject From To Date Thread Abstract Reporting Present Action Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August September October November December Mr Mrs Ms Dr Prof Sir'.split(' '),
);
const COMMON_TITLE_WORDS = new Set(
  'Anyone Everyone People Nobody Somebody Customer Support Grant Proposal Incident Annual Case Press Training Field Book Letter Policy Technical Interview Radio Community University Company Student Court Travel Startup Magazine Conference Meeting Product Podcast Personal Internal News Social Diary Research Peer Textbook Newsletter Op Parliamentary Reviewed Recorded Notes Report Summary Study Review Thread Page Post Section Minutes Memo Column Excerpt Transcript Feature Essay Filing Bulletin Manual Debate Segment Log Chat Release Pitch Lecture Obituary Wiki Postmortem'.split(' '),
);

function personalNames(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/\b(?:(Dr|Mr|Mrs|Ms|Prof)\.\s+)?([A-Z][a-z]+(?:[ \t]+[A-Z][a-z]+){1,2})\b/g)) {
    let parts = m[2]!.split(/\s+/);
    if (m[1]) {
      found.add(`${m[1]}. ${parts.join(' ')}`);
      continue;
    }
    // A sentence-initial function word or heading word ("Then Maria Lopez") is dropped, not the name after it.
    while (parts.length > 0 && (NOT_NAMES.has(parts[0]!) || isStopword(parts[0]!.toLowerCase()) || COMMON_TITLE_WORDS.has(parts[0]!))) parts = parts.slice(1);
    if (parts.length < 2) continue;
    const atLineStart = m.index === 0 || text[m.index - 1] === '\n';
    if (atLineStart && parts.length === 3) continue;
    found.add(parts.join(' '));
  }
  return [...found];
}

const N = Number(process.env.BENCH_DOCS ?? 2000);
const ROUNDS = 5;
const random = new Random(11);
const PEOPLE = ['Dr. Ingrid Halvorsen-Mbeki', 'Ingrid Halvorsen-Mbeki', 'Ms Halvorsen-Mbeki', 'Ludwig van Beethoven', 'Mr van Beethoven', "Seán O'Connor", 'Amira al-Hashimi', 'Prof. Maria de la Cruz'];

/** A document of about 5,000 characters: simulator prose with a few people mentioned. */
function document(): string {
  let text = '';
  while (text.length < 5000) {
    const para = generateDocument(random, random.pick(DOC_TYPES), 'notes on harbours and budgets', 'The assistant admits uncertainty.');
    text += `${para}\n\n${random.pick(PEOPLE)} said the figures hold. Later ${random.pick(PEOPLE)} disagreed.\n\n`;
  }
  return text.slice(0, 5000);
}

const docs = Array.from({ length: N }, document);
/** Best of ROUNDS, interleaved so both see the same machine load. */
function measure(extract: (text: string) => string[]): { usPerDocument: number; namesPerDocument: number } {
  let best = Infinity;
  let names = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    names = 0;
    for (const d of docs) names += extract(d).length;
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / N);
  }
  return { usPerDocument: Number(best.toFixed(1)), namesPerDocument: Number((names / N).toFixed(1)) };
}

const results: Record<string, ReturnType<typeof measure>[]> = { before: [], after: [] };
for (let i = 0; i < 3; i++) {
  results.before!.push(measure(personalNames));
  results.after!.push(measure((text) => personKeys(text)));
}
const best = (list: ReturnType<typeof measure>[]) => list.reduce((a, b) => (b.usPerDocument < a.usPerDocument ? b : a));
process.stdout.write(JSON.stringify({ docs: N, chars: 5000, before: best(results.before!), after: best(results.after!) }) + '\n');
