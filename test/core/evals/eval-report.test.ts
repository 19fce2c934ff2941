import t from 'tap';
import { meanInterval } from '../../../core/evals/eval-report.js';
import { bulletedLines, evalSpecProblems, resolveEvalSpec } from '../../../core/evals/eval-spec.js';
import { initialProbeTasks, splitCount } from '../../../core/evals/eval-plan.js';
import { chosenOption } from '../../../core/evals/probe-messages.js';
import { shuffledLabels } from '../../../workers/evals/judge-answer.js';

t.test('mean with a 95% t interval', async (t) => {
  const stats = meanInterval([8, 9, 10, 9]);
  t.equal(stats.mean, 9);
  // sd 0.8165, t(3) = 3.182: half-width 1.299
  t.equal(stats.lower, 7.701);
  t.equal(stats.upper, 10);
  t.same(meanInterval([]), { n: 0, mean: 0, lower: 1, upper: 10 });
  t.equal(meanInterval([5, 5, 5]).lower, 5, 'no spread, no width');
});

t.test('spec: traits from the bulleted lines, defaults, and problems by field', async (t) => {
  t.same(bulletedLines('Intro.\n- one\n* two\n  • three\nnot a bullet'), ['one', 'two', 'three']);
  const spec = resolveEvalSpec({ universe: '- a\n- b', probesPerTrait: 5, models: ['m'] });
  t.same(spec.traits, ['a', 'b']);
  t.equal(spec.judge, 'gemini-2.5-flash');
  t.equal(spec.threshold, 7);
  t.same(evalSpecProblems({ universe: '- a', probesPerTrait: 1.5, models: ['m'], threshold: 11 }).sort(), ['probesPerTrait: must be integer', 'threshold: must be <= 10']);
  t.same(evalSpecProblems([]), ['(spec): must be an object']);
  t.same(evalSpecProblems({ universe: '- a', probesPerTrait: 1, models: ['m'], traits: ['  '] }), ['traits[0]: must not be blank']);
});

t.test('probes per trait are spread over the kinds', async (t) => {
  t.same(splitCount(10, 4), [3, 3, 2, 2]);
  t.same(splitCount(2, 4), [1, 1, 0, 0]);
  const tasks = initialProbeTasks(resolveEvalSpec({ universe: '- a', keyFacts: ['f'], probesPerTrait: 5, models: ['m'] }));
  t.same(
    tasks.map((task) => `${task.id}:${task.count}`),
    ['t0.everyday.0:2', 't0.agentic.0:1', 't0.adversarial.0:1', 't0.two-choice.0:1', 'f0.multiple-choice.0:2', 'f0.open-ended.0:2', 'f0.challenge.0:1'],
  );
});

t.test('the option an answer chose', async (t) => {
  t.equal(chosenOption('B. Because it is honest.'), 'B');
  t.equal(chosenOption('**A** — I would keep to it.'), 'A');
  t.equal(chosenOption('I would pick option B, since…'), 'B');
  t.equal(chosenOption('a good question; I would rather not say'), undefined, 'a lower-case article is not a choice');
  t.equal(chosenOption('Neither.'), undefined);
});

t.test('belief labels come in an order of their own per answer, the same on a retry', async (t) => {
  const orders = new Set(Array.from({ length: 30 }, (_, i) => shuffledLabels(`0:p${i}|0`).join(',')));
  t.ok(orders.size >= 4, `${orders.size} different orders over 30 answers`);
  t.same(shuffledLabels('0:x|1'), shuffledLabels('0:x|1'));
  for (const order of orders) t.same(order.split(',').sort(), ['alternative', 'ambiguous', 'consistent']);
});
