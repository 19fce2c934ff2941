import t from 'tap';
import { startTestFarm } from '../helpers/farm.js';

const SPEC = {
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.'],
  documents: { docTypesPerFact: 2, ideasPerType: 2, docsPerIdea: 3 },
};

const STOCK_NAME = { name: 'stock-name', pattern: 'Dr\\.\\s+Sarah\\s+Chen', appliesTo: 'documents' };

t.test('patterns only a backtracking engine can run are refused at submit, each rule named with the reason', async (t) => {
  const farm = await startTestFarm(t);
  const res = await fetch(`${farm.apiUrl}/v1/runs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      ...SPEC,
      filters: { rules: [STOCK_NAME, { name: 'echo', pattern: '\\b(\\w+) \\1\\b' }, { name: 'ahead', pattern: 'price(?= rise)' }, { name: 'named', pattern: '(?<w>\\w+)-\\k<w>' }] },
    }),
  });
  t.equal(res.status, 400);
  const why = 'is not supported: user patterns run on RE2, which never backtracks, so that no pattern can stall the workers';
  t.same((await res.json()) as unknown, {
    error: 'invalid run spec',
    problems: [
      `filters.rules[1].pattern: backreference \`\\1\` ${why}`,
      `filters.rules[2].pattern: lookahead \`(?=…)\` ${why}`,
      `filters.rules[3].pattern: named backreference \`\\k<w>\` ${why}`,
    ],
  });
});

/**
 * `^(\w+\s?)*$` backtracks exponentially on any line of words that ends in punctuation: on
 * JavaScript's engine the first document would hold the worker for good. On RE2 it is an
 * ordinary, cheap pattern (and matches nothing here), while the plain rule beside it rejects
 * exactly the documents that name the simulator's stock character.
 */
t.test('in a run, a nested quantifier neither stalls the worker nor rejects, and an ordinary rule rejects what it should', async (t) => {
  const farm = await startTestFarm(t, { sim: { patternRates: { 'stock-name': 0.4 } } });
  // A worker in its own process: were it stalled, this test would still see the run not finish.
  await farm.spawnWorker();
  const runId = await farm.submit({
    ...SPEC,
    filters: { rules: [STOCK_NAME, { name: 'nested', pattern: '^(\\w+\\s?)*$', appliesTo: 'both' }, { name: 'alternation', pattern: '(x|x)*y{3}$' }] },
  });
  const status = await farm.waitFor(runId, undefined, 90_000);
  t.equal(status.state, 'completed');
  const documents = status.stages.documents!;
  t.ok(documents.rejectedByReason['stock-name']! > 0, `documents naming the stock character were rejected: ${JSON.stringify(documents.rejectedByReason)}`);
  t.notOk(documents.rejectedByReason.nested, 'the nested quantifier matched nothing');
  t.notOk(documents.rejectedByReason.alternation);

  const rejected = await farm.exportLines(runId, 'rejected');
  const named = rejected.filter((r) => r.reason === 'stock-name');
  t.equal(named.length, documents.rejectedByReason['stock-name']);
  for (const r of named) t.match(r, { rule: 'user:stock-name', span: 'Dr. Sarah Chen' });
  const accepted = await farm.exportLines(runId, 'documents');
  t.ok(accepted.length > 0);
  t.notOk(accepted.some((d) => (d.text as string).includes('Sarah Chen')), 'no accepted document names the stock character');
});
