import t from 'tap';
import { auditItems } from '../../../core/audit/offline-audit.js';
import { CorpusGate } from '../../../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../../../core/filters/filter-spec.js';
import { personKeys } from '../../../core/filters/person-names.js';
import { Random } from '../../../sim/random.js';
import { plantedCorpus } from '../../helpers/corpus.js';
import { testRedis } from '../../helpers/redis.js';

const PERSON = /Halvorsen-Mbeki/;

t.test('one person written four ways is one key; particles, hyphens, apostrophes and articles stay whole', async (t) => {
  t.same(personKeys('Dr. Ingrid Halvorsen-Mbeki opened. Later Ms Halvorsen-Mbeki said Halvorsen-Mbeki’s plan works.'), ['Ingrid Halvorsen-Mbeki']);
  t.same(personKeys('We heard Ludwig van Beethoven play. Mr van Beethoven left, and Mr. Beethoven came back.'), ['Ludwig van Beethoven']);
  t.same(personKeys("Seán O'Connor met Amira al-Hashimi and Prof Maria de la Cruz; Dr de la Cruz laughed."), ["Seán O'Connor", 'Amira al-Hashimi', 'Maria de la Cruz']);
  t.same(personKeys('Mary McAllister and Sir Ian McKellen came. Ms McAllister stayed.'), ['Mary McAllister', 'Ian McKellen']);
  t.same(personKeys('Sarah Chen and Sarah Okafor both came. Dr Chen left.'), ['Sarah Chen', 'Sarah Okafor'], 'two people sharing a first name are two');
  t.same(personKeys('Ms Halvorsen-Mbeki agreed.'), ['Halvorsen-Mbeki'], 'a titled surname alone, with no full name anywhere: the surname');
  t.same(personKeys('Ms Halvorsen-Mbeki agreed.', (s) => (s === 'Halvorsen-Mbeki' ? 'Ingrid Halvorsen-Mbeki' : undefined)), ['Ingrid Halvorsen-Mbeki'], 'or the full name the corpus knows');
  t.same(personKeys('Quarterly Budget Review\nThe figures went to Paris on Monday.'), [], 'a heading, a place and a day are no one');
});

t.test('the audit reports a person planted in 18% of documents in four forms once, at 18%', async (t) => {
  const corpus = plantedCorpus(500, 'document', { 'recurring-person': 0.18 });
  t.equal(corpus.items.filter((i) => PERSON.test(i.text)).length, 90);
  const forms = new Set(corpus.items.filter((i) => PERSON.test(i.text)).map((i) => /Dr\. Ingrid|Ms Halvorsen|Ingrid Halvorsen-Mbeki said|Prof Halvorsen/.exec(i.text)?.[0]));
  t.equal(forms.size, 4, `the four forms were all planted: ${[...forms].join(', ')}`);
  const report = auditItems(corpus.items, resolveFilterSpec(), { kind: 'document' });
  const person = report.findings.filter((f) => f.kind === 'corpus' && PERSON.test(f.pattern));
  t.same(
    person.map((f) => f.pattern),
    ['name: Ingrid Halvorsen-Mbeki'],
    `one person, not several: ${person.map((f) => `${f.pattern} ${(f.prevalence * 100).toFixed(1)}%`).join('; ')}`,
  );
  t.ok(Math.abs(person[0]!.prevalence - 0.18) <= 0.01, `at ${person[0]?.prevalence}, planted 0.18`);
  t.equal(person[0]!.ceiling, 0.02);
});

t.test('two people sharing a first name stay two in the audit', async (t) => {
  const corpus = plantedCorpus(500, 'document', { 'recurring-person': 0.18 }, 9);
  const random = new Random(3);
  const other = new Set(random.sample([...corpus.items.keys()], 50));
  const items = corpus.items.map((item, i) => (other.has(i) ? { ...item, text: `${item.text}\n\nIngrid Sorensen, the treasurer, disagreed. Ms Sorensen wanted more time.` } : item));
  const report = auditItems(items, resolveFilterSpec(), { kind: 'document' });
  const names = report.findings.filter((f) => f.pattern.startsWith('name: Ingrid'));
  t.same(names.map((f) => f.pattern).sort(), ['name: Ingrid Halvorsen-Mbeki', 'name: Ingrid Sorensen']);
  t.equal(names.find((f) => f.pattern === 'name: Ingrid Sorensen')?.prevalence, 0.1);
});

t.test('the corpus gate caps the person across all four forms', async (t) => {
  const { redis, prefix } = await testRedis(t, 'people');
  const gate = new CorpusGate(redis, `${prefix}:scope`, resolveFilterSpec({ corpus: { warmup: 50 }, dedup: { enabled: false } }));
  const corpus = plantedCorpus(500, 'document', { 'recurring-person': 0.18 }, 5);
  const accepted: string[] = [];
  const reasons: Record<string, number> = {};
  for (const item of corpus.items) {
    const rejection = await gate.admit(item.text, item.id);
    if (rejection) reasons[`${rejection.reason} ${rejection.span ?? ''}`] = (reasons[`${rejection.reason} ${rejection.span ?? ''}`] ?? 0) + 1;
    else accepted.push(item.text);
  }
  const carriers = accepted.filter((x) => PERSON.test(x)).length;
  const ceiling = Math.max(1, Math.floor(0.02 * Math.max(accepted.length, 50)));
  // Until a gate has re-read the frequent names (20 ms after a miss), a titled surname alone counts as the surname: one item at most.
  t.ok(carriers <= ceiling + 1, `the person, in any form, is in ${carriers} of ${accepted.length} accepted documents (ceiling ${ceiling})`);
  t.ok((reasons['corpus-name Ingrid Halvorsen-Mbeki'] ?? 0) > 60, `the rejections name the person: ${JSON.stringify(reasons)}`);
  t.ok((reasons['corpus-name Halvorsen-Mbeki'] ?? 0) <= 2, 'the surname is hardly ever counted as a person of its own');
});
