import t from 'tap';
import { runSpecProblems } from '../../../core/spec/validate-run-spec.js';

const VALID = { universe: '- Aster admits uncertainty.', documents: { docTypesPerFact: 1, ideasPerType: 1, docsPerIdea: 1 } };

t.test('seed (integer >= 0) and cache (boolean) are spec fields; a bad value names the field', async (t) => {
  t.same(runSpecProblems({ ...VALID, seed: 0, cache: true }), []);
  t.same(runSpecProblems({ ...VALID, seed: 42, cache: false }), []);
  t.same(runSpecProblems({ ...VALID, seed: -1 }), ['seed: must be >= 0']);
  t.same(runSpecProblems({ ...VALID, seed: 1.5 }), ['seed: must be integer']);
  t.same(runSpecProblems({ ...VALID, seed: '7' }), ['seed: must be integer']);
  t.same(runSpecProblems({ ...VALID, cache: 'off' }), ['cache: must be boolean']);
});
