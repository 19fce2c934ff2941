import t from 'tap';
import { auditItems } from '../../../core/audit/offline-audit.js';
import { chatPatternsIn } from '../../../core/filters/chat-patterns.js';
import { resolveFilterSpec } from '../../../core/filters/filter-spec.js';
import { plantedCorpus } from '../../helpers/corpus.js';

const spec = resolveFilterSpec();
const names = (text: string, s = spec) => chatPatternsIn(text, s).map((p) => p.name);

t.test('the answer-first detector reads the first sentence only, and only verdicts', async (t) => {
  for (const text of ['Bottom line: yes, with caveats.', 'Short answer: no.', 'The short answer is that it depends.', '**TL;DR:** do it.', 'In short, wait.', 'Long story short, it works.', 'Yes — but plan for it.', 'No. Not as described.', 'The bottom line is that it works.']) {
    t.same(names(text), ['bottom-line-opening'], text);
  }
  for (const text of ['Briefly: budgets first.', 'The short version on budgets and trust first.', 'No worries, here it is.', 'Honestly, it depends. Bottom line: yes.', 'Yesterday the numbers moved.']) {
    t.same(names(text), [], text);
  }
});

t.test('the validation detector reads the first two sentences', async (t) => {
  for (const text of ["That's a great question, and the answer is yes.", 'Great question! Start small.', "It's completely understandable that you worry. Here is why.", 'Okay. I understand how you feel about it.', "It's totally valid to feel unsure here.", 'I hear you. Start small.']) {
    t.same(names(text), ['validation-preamble'], text);
  }
  t.same(names('Start small. Then measure. That is a great question to ask later.'), [], 'not past the second sentence');
  t.same(names('Fair question: budgets first.'), [], 'a plain acknowledgement is not validation');
});

t.test('a detector switched off in builtins is not reported; shares come from corpus.maxShare', async (t) => {
  const off = resolveFilterSpec({ builtins: { 'validation-preamble': false }, corpus: { maxShare: { bottomLineOpenings: 0.1 } } });
  t.same(chatPatternsIn('Great question! Short answer: yes.', off), []);
  t.same(chatPatternsIn('Short answer: yes. Great question!', off), [{ name: 'bottom-line-opening', span: 'Short answer:', share: 0.1 }]);
});

t.test('planted many ways at 30%, found at 30% by the detectors and reported by name by the audit; clean chats carry none', async (t) => {
  const corpus = plantedCorpus(500, 'chat', { 'validation-varied': 0.3, 'bottom-line-varied': 0.3 });
  for (const [plant, name] of [['validation-varied', 'validation-preamble'], ['bottom-line-varied', 'bottom-line-opening']] as const) {
    const found = new Set(corpus.items.filter((i) => names(i.text).includes(name)).map((i) => i.id));
    t.same([...found].sort(), [...corpus.planted[plant]!].sort(), `${name}: exactly the planted chats`);
  }
  const report = auditItems(corpus.items, spec, { kind: 'chat' });
  t.match(report.findings.find((f) => f.pattern === 'bottom-line-opening'), { kind: 'corpus', prevalence: 0.3, ceiling: 0.05 });
  t.match(report.findings.find((f) => f.pattern === 'validation-preamble'), { kind: 'corpus', prevalence: 0.3, ceiling: 0.05 });
  t.notOk(report.findings.some((f) => f.pattern.startsWith('opening:')), 'no single opening carries them');
  const clean = plantedCorpus(1000, 'chat', {}, 7);
  t.equal(clean.items.filter((i) => names(i.text).length > 0).length, 0);
});
