import t from 'tap';
import type { PatternReport } from '../../../core/audit/llm-audit.js';
import type { FilterSpec } from '../../../core/filters/filter-spec.js';
import { RunFilters } from '../../../core/filters/run-filters.js';
import { runKeys } from '../../../core/keys.js';
import type { RunSpec } from '../../../core/spec/run-spec-schema.js';
import { plantedCorpus } from '../../helpers/corpus.js';
import { testRedis } from '../../helpers/redis.js';

const spec = (filters: FilterSpec) => ({ universe: 'Aster is an assistant.', filters }) as RunSpec;

/** A light edit, as a revision is: the same document without its last sentence. */
const lightEdit = (text: string) => text.replace(/[^.!?\n]+[.!?]\s*$/, '').trim();

async function storeReport(redis: import('ioredis').Redis, prefix: string, runId: string, patterns: { name: string; marker: string }[]) {
  const report: PatternReport = {
    sampled: 40,
    maxPrevalence: 0.2,
    at: new Date().toISOString(),
    patterns: patterns.map((p) => ({ ...p, definition: p.name, carriers: 20, prevalence: 0.5, ci: [0.35, 0.65], active: true, examples: ['x'] })),
  };
  await redis.set(runKeys(prefix, runId).patterns('document'), JSON.stringify(report));
}

t.test('a revision replaces its draft in the corpus: not its near-duplicate, and its names counted once', async (t) => {
  const { redis, prefix } = await testRedis(t, 'revise-gate');
  const corpus = plantedCorpus(3, 'document', { 'stock-name': 1 });
  const [draft, other] = corpus.items.map((i) => i.text);

  const filters = new RunFilters(redis, prefix, 'r1', spec({}));
  t.equal(await filters.check({ kind: 'document', text: draft! }, 'documents-0', { provisional: true }), null, 'the draft passes');
  const revision = lightEdit(draft!);
  t.not(revision, draft);
  t.equal(await filters.check({ kind: 'document', text: revision }, 'revise-0', { replaces: { id: 'documents-0', text: draft! } }), null, 'its light edit is not a near-duplicate of it');
  t.equal(await filters.gate('document').accepted(), 1, 'one document, one entry');

  // Names: ceiling 2 (2% of a 100-item warm-up). Dedup off, so only the name counts can refuse.
  const noDedup = new RunFilters(redis, prefix, 'r2', spec({ dedup: { enabled: false } }));
  t.equal(await noDedup.check({ kind: 'document', text: draft! }, 'documents-0', { provisional: true }), null);
  t.equal(await noDedup.check({ kind: 'document', text: revision }, 'revise-0', { replaces: { id: 'documents-0', text: draft! } }), null);
  t.equal(await noDedup.check({ kind: 'document', text: other! }, 'documents-1'), null, 'a second document may carry the name: the revision took its draft’s count, not a second one');
  t.match(await noDedup.check({ kind: 'document', text: corpus.items[2]!.text }, 'documents-2'), { reason: 'corpus-name' }, 'a third is over the ceiling');
});

t.test('a revision rejected before the gate takes its draft out too', async (t) => {
  const { redis, prefix } = await testRedis(t, 'revise-gate');
  const [draft] = plantedCorpus(1, 'document', {}).items.map((i) => i.text);
  const filters = new RunFilters(redis, prefix, 'r1', spec({}));
  t.equal(await filters.check({ kind: 'document', text: draft! }, 'documents-0', { provisional: true }), null);
  t.match(await filters.check({ kind: 'document', text: 'Too short.' }, 'revise-0', { replaces: { id: 'documents-0', text: draft! } }), { reason: 'length' });
  t.equal(await filters.gate('document').accepted(), 0, 'no document, no entry');
  t.equal(await filters.check({ kind: 'document', text: draft! }, 'documents-9'), null, 'and the draft’s text is no longer there to be duplicated');
});

t.test('downsample: a carrier the gate turns away is not counted, so the ceiling admits exactly its share', async (t) => {
  const { redis, prefix } = await testRedis(t, 'downsample');
  const runId = 'r1';
  await storeReport(redis, prefix, runId, [{ name: 'stock-name', marker: 'Dr. Sarah Chen' }]);
  // Corpus ceilings off (every item carries the name), dedup on; pattern ceiling 20% of max(count + 1, 50).
  const filters = new RunFilters(redis, prefix, runId, spec({ corpus: { enabled: false, warmup: 50 }, audit: { enabled: true, mode: 'downsample', maxPrevalence: 0.2 } }));
  const carriers = plantedCorpus(30, 'document', { 'stock-name': 1 }).items;
  let accepted = 0;
  const reasons: Record<string, number> = {};
  for (const item of carriers) {
    for (const [text, id] of [[item.text, item.id], [lightEdit(item.text), `${item.id}-copy`]] as const) {
      const rejection = await filters.check({ kind: 'document', text }, id);
      if (rejection) reasons[rejection.reason] = (reasons[rejection.reason] ?? 0) + 1;
      else accepted++;
    }
  }
  t.ok(reasons['near-duplicate']! >= 9, `near-copies were turned away by the gate: ${JSON.stringify(reasons)}`);
  t.equal(accepted, 10, 'exactly the ceiling (20% of the 50-item warm-up) of carriers is accepted');
  t.equal(Number(await redis.hget(runKeys(prefix, runId).patternCounts('document'), 'stock-name')), accepted, 'the run’s pattern count is the accepted carriers, no more');
  t.equal(await filters.gate('document').carriers('stock-name'), accepted, 'as the gate reads it');
});

t.test('a model-written marker is text, not a regular expression: no catastrophic backtracking, no character classes', async (t) => {
  const { redis, prefix } = await testRedis(t, 'marker');
  const runId = 'r1';
  await storeReport(redis, prefix, runId, [
    { name: 'evil', marker: '(a+)+$' },
    { name: 'placeholder', marker: '[Name]' },
  ]);
  const filters = new RunFilters(redis, prefix, runId, spec({ builtins: { placeholder: false }, corpus: { enabled: false }, dedup: { enabled: false }, audit: { enabled: true, mode: 'filter' } }));
  const [doc, withPlaceholder] = plantedCorpus(2, 'document', {}).items.map((i) => i.text);
  const started = performance.now();
  const rejection = await filters.check({ kind: 'document', text: `${doc}\n\n${'a'.repeat(29)}!` }, 'documents-0');
  const elapsed = performance.now() - started;
  t.ok(elapsed < 500, `checked in ${elapsed.toFixed(0)} ms (a backtracking regex would take seconds)`);
  t.equal(rejection, null, 'the text carries neither marker as written');
  t.match(await filters.check({ kind: 'document', text: `${withPlaceholder}\n\nSend it to [Name] by Friday.` }, 'documents-1'), { reason: 'audit-pattern', rule: 'audit:placeholder', span: '[Name]' }, 'the placeholder marker matches the placeholder');
});
