import { Redis } from 'ioredis';
import t from 'tap';
import { markerRegex, runPatternAudit, type GenerateJson, type PatternReport } from '../../../core/audit/llm-audit.js';
import { PromptLibrary } from '../../../core/prompts/prompt-library.js';
import { REPO_ROOT } from '../../helpers/farm.js';
import { TEST_REDIS_URL, testRedis } from '../../helpers/redis.js';

const prompts = new PromptLibrary(`${REPO_ROOT}prompts`);

t.test('a catalog entry’s marker is the member marker its labelled carriers bear out, not the first member’s', async (t) => {
  // Half the samples name the stock person; all of them are quarterly reports.
  const samples = Array.from({ length: 20 }, (_, i) => ({ id: `s${i}`, text: `Quarterly report ${i}. ${i % 2 === 0 ? 'Dr. Sarah Chen reviewed the figures.' : 'The team reviewed the figures.'}` }));
  const carriers = samples.filter((_, i) => i % 2 === 0).map((s) => s.id);
  // A model whose cluster pass merges an unrelated proposal into the pattern, listing it first.
  const generate: GenerateJson = async (stage, prompt) => {
    if (stage === 'audit-scan') return { proposals: [{ name: 'report-header', definition: 'Opens with a report header.', marker: 'Quarterly report' }, { name: 'stock-name', definition: 'The same invented person.', marker: 'Dr\\. Sarah Chen' }] };
    if (stage === 'audit-cluster') return { catalog: [{ name: 'stock-person', definition: 'A stock person recurs.', members: ['report-header', 'stock-name'] }] };
    const ids = [...prompt.matchAll(/<sample id="([^"]*)">/g)].map((m) => m[1]!);
    return { labels: ids.map((id) => ({ sampleId: id, patterns: carriers.includes(id) ? ['stock-person'] : [] })) };
  };
  const report = await runPatternAudit({ samples, generate, prompts, maxPrevalence: 0.2 });
  const pattern = report.patterns.find((p) => p.name === 'stock-person')!;
  t.ok(pattern.active, 'the pattern is active');
  t.ok(pattern.marker, 'it has a marker');
  const regex = markerRegex(pattern.marker ?? '');
  t.same(samples.filter((s) => regex.test(s.text)).map((s) => s.id), carriers, `the marker ${JSON.stringify(pattern.marker)} finds exactly the labelled carriers`);
});

t.test('concurrent audits of one run keep every active pattern (the merge is one atomic step)', async (t) => {
  const { prefix } = await testRedis(t, 'patterns');
  const { storePatternReport } = await import('../../../core/audit/pattern-store.js');
  const key = `${prefix}:run:r1:patterns:document`;
  const n = 12;
  const connections = Array.from({ length: n }, () => new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null }));
  t.teardown(() => connections.forEach((c) => c.disconnect()));
  await Promise.all(connections.map((c) => c.ping()));
  const reportOf = (i: number): PatternReport => ({
    sampled: 40,
    maxPrevalence: 0.2,
    at: new Date().toISOString(),
    patterns: [{ name: `p${i}`, definition: 'd', marker: `phrase ${i}`, carriers: 20, prevalence: 0.5, ci: [0.35, 0.65], active: true, examples: ['x'] }],
  });
  await Promise.all(connections.map((c, i) => storePatternReport(c, key, reportOf(i))));
  const stored = JSON.parse((await connections[0]!.get(key))!) as PatternReport;
  t.same(stored.patterns.filter((p) => p.active).map((p) => p.name).sort(), Array.from({ length: n }, (_, i) => `p${i}`).sort(), 'no audit dropped another’s active pattern');
});
