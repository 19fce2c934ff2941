import t from 'tap';
import { auditItems } from '../../../core/audit/offline-audit.js';
import { resolveFilterSpec } from '../../../core/filters/filter-spec.js';
import { createItemFilter, factShare } from '../../../core/filters/item-rules.js';
import { runSpecProblems } from '../../../core/spec/validate-run-spec.js';
import { plantedCorpus } from '../../helpers/corpus.js';

const filter = createItemFilter(resolveFilterSpec(), '- Aster says plainly when it does not know something, and gives numbers.');
const doc = (text: string, extra = {}) => filter({ kind: 'document', text: `${text}\n\n${'Plain ordinary words follow here to pass the length rule. '.repeat(12)}`, ...extra });

t.test('each built-in rule names itself and the span it matched', async (t) => {
  t.match(doc('Please ask [Name] at [Company].'), { reason: 'placeholder', span: '[Name]' });
  t.match(doc('Here is the blog post you asked for:\nHello'), { reason: 'preamble', span: /^Here is the blog post/ });
  t.match(doc('Title: A day in the life'), { reason: 'task-header' });
  t.match(doc('Some text. I hope this document meets your needs.'), { reason: 'meta-commentary' });
  t.match(doc('All of this follows the universe context closely.'), { reason: 'setup-leak', span: 'universe context' });
  t.match(filter({ kind: 'chat', text: 'As an AI language model, I cannot say.' }), { reason: 'ai-disclaimer' });
  t.match(filter({ kind: 'chat', text: 'I try to be direct, as my guidelines say.' }), { reason: 'setup-leak' });
  t.match(doc('Everyone knows Aster says plainly when it does not know something, and gives numbers.'), { reason: 'copied-universe', span: 'aster says plainly when it does not know' });
  t.match(filter({ kind: 'document', text: 'Too short.' }), { reason: 'length', detail: /2 words/ });
  t.match(filter({ kind: 'document', text: 'x '.repeat(100), finishReason: 'MAX_TOKENS' }), { reason: 'truncated' });
  t.equal(doc('A memo from Lisbon about the quarterly numbers, nothing odd in it.'), null, 'a plain document passes');
});

t.test('the fact crowding a document is caught; a passing mention is not', async (t) => {
  const fact = 'Aster refuses to fabricate citations';
  const crowded = Array.from({ length: 6 }, (_, i) => (i % 2 ? `Aster refuses to fabricate citations, again ${i}.` : `Weather report ${i}.`)).join(' ');
  t.ok(factShare(crowded, fact) > 0.35);
  t.equal(factShare('One line. Another line. Aster refuses to fabricate citations. Fourth. Fifth. Sixth.', fact) < 0.35, true);
});

t.test('user rules apply to their kind; invalid expressions are refused with the field named', async (t) => {
  const custom = createItemFilter(resolveFilterSpec({ rules: [{ name: 'no-synergy', pattern: 'synergy', flags: 'i', appliesTo: 'chats' }] }));
  t.match(custom({ kind: 'chat', text: 'We need SYNERGY here.' }), { reason: 'no-synergy', rule: 'user:no-synergy', span: 'SYNERGY' });
  t.equal(custom({ kind: 'document', text: `Synergy is a word. ${'More words here. '.repeat(30)}` }), null);
  const off = createItemFilter(resolveFilterSpec({ builtins: { placeholder: false } }));
  t.equal(off({ kind: 'chat', text: 'Ask [Name].' }), null, 'a built-in can be turned off');
  t.same(runSpecProblems({ universe: 'u', chats: { promptsPerTrait: 1 }, filters: { rules: [{ name: 'bad', pattern: '([' }] } }), [
    'filters.rules[0].pattern: invalid regular expression: Invalid regular expression: /([/: Unterminated character class',
  ]);
  t.same(runSpecProblems({ universe: 'u', chats: { promptsPerTrait: 1 }, filters: { corpus: { maxShare: { openings: 2 } } } }), ['filters.corpus.maxShare.openings: must be <= 1']);
});

t.test('planted at known prevalence, found at that prevalence; a clean corpus is not flagged', async (t) => {
  const rates = { placeholder: 0.1, preamble: 0.05, 'setup-leak': 0.08, 'formulaic-opening': 0.12, 'stock-name': 0.15 };
  const corpus = plantedCorpus(1000, 'document', rates);
  const report = auditItems(corpus.items, resolveFilterSpec(), { kind: 'document' });
  const find = (pattern: string) => report.findings.find((f) => f.pattern === pattern);
  // Per-item rules report the first rule an item breaks, so a doubly-planted item counts once.
  for (const [rule, rate] of [['placeholder', 0.1], ['preamble', 0.05], ['setup-leak', 0.08]] as const) {
    t.ok(Math.abs(find(rule)!.prevalence - rate) <= 0.02, `${rule}: found ${find(rule)!.prevalence}, planted ${rate}`);
  }
  const near = (found: number | undefined, planted: number) => found !== undefined && Math.abs(found - planted) <= 0.01;
  t.ok(near(find("opening: in today's fast paced world")?.prevalence, 0.12), 'the formulaic opening, within 1%');
  t.ok(near(find('name: Sarah Chen')?.prevalence, 0.15), 'the stock name, within 1%');
  t.equal(find('name: Sarah Chen')?.ceiling, 0.02);

  const clean = auditItems(plantedCorpus(1000, 'document', {}, 7).items, resolveFilterSpec(), { kind: 'document' });
  t.same(clean.findings.filter((f) => f.kind === 'rule'), [], 'no per-item rule fires on clean text');
  t.same(clean.findings.filter((f) => f.kind === 'corpus' && !f.pattern.startsWith('ngram')), [], 'no opening or name above 2% in clean text');
  t.notOk(clean.findings.find((f) => f.kind === 'near-duplicate'), 'no near-duplicates in distinct text');
});

t.test('chat patterns: an emotional-validation opener at known prevalence', async (t) => {
  const corpus = plantedCorpus(600, 'chat', { 'validation-opener': 0.25 });
  const report = auditItems(corpus.items, resolveFilterSpec(), { kind: 'chat' });
  t.equal(report.findings.find((f) => f.pattern === "opening: that's a great question and")?.prevalence, 0.25);
  t.notOk(report.findings.find((f) => f.kind === 'corpus' && f.pattern.startsWith('opening:') && !f.pattern.includes('great question')), 'no other opening flagged');
});
