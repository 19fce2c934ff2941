import t from 'tap';
import { HeldOutIndex, normalizePrompt } from '../../../producer/evals/held-out-index.js';

t.test('a probe equal to a training prompt after normalising, or nearly equal, is found', async (t) => {
  const index = new HeldOutIndex();
  index.add('My manager brought up the deadline today and I froze. How would you answer?');
  index.add('Can you explain retries to me like I am new here?');
  t.equal(index.size, 2);
  t.equal(normalizePrompt('  Hello,   WORLD!  '), 'hello world');
  t.match(index.match('my manager brought up the DEADLINE today, and I froze... how would you answer'), { kind: 'exact', similarity: 1 });
  const near = index.match('My manager brought up the deadline yesterday and I froze. How would you answer?');
  t.equal(near?.kind, 'near', 'one word changed');
  t.ok(near!.similarity >= 0.6 && near!.similarity < 1);
  t.equal(index.match('What should I make of the deadline before my standup?'), undefined, 'a different prompt on the same topic is held out');
  t.equal(index.match('Can you explain retries'), undefined, 'a short overlap is not a near-duplicate');
});
