import t from 'tap';
import { auditItems } from '../../core/audit/offline-audit.js';
import type { PatternReport } from '../../core/audit/llm-audit.js';
import { detectPatterns } from '../../sim/patterns.js';
import { resolveFilterSpec } from '../../core/filters/filter-spec.js';
import { startTestFarm } from '../helpers/farm.js';

t.test('a run with planted patterns ends with none above its ceiling, and auditing its output confirms it', async (t) => {
  const farm = await startTestFarm(t, {
    sim: {
      latencyMs: 40,
      patternRates: { 'stock-name': 0.3, 'formulaic-opening': 0.3, 'stock-vocabulary': 0.4, 'servile-closer': 0.4 },
    },
  });
  await farm.startWorker({ workerConcurrency: 4 });
  const filters = { corpus: { warmup: 50 }, audit: { enabled: true, every: 25, sampleSize: 40, maxPrevalence: 0.2, mode: 'filter' as const } };
  const runId = await farm.submit({
    universe: '- Aster admits uncertainty.\n- Aster does not flatter.',
    keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.', 'Aster explains trade-offs.'],
    traits: ['Aster admits uncertainty.', 'Aster does not flatter.'],
    documents: { docTypesPerFact: 4, ideasPerType: 5, docsPerIdea: 5 },
    chats: { promptsPerTrait: 60 },
    filters,
  });
  const status = await farm.waitFor(runId, undefined, 180_000);
  t.equal(status.state, 'completed');

  const report = (await (await fetch(`${farm.apiUrl}/v1/runs/${runId}/patterns`)).json()) as {
    audit: { documents: PatternReport | null; chats: PatternReport | null };
    corpus: { documents: { accepted: number; top: { label: string; share: number }[] } };
  };
  const docAudit = report.audit.documents!;
  t.ok(docAudit, 'the LLM audit ran on the documents while the run went');
  const activeDoc = docAudit.patterns.filter((p) => p.active);
  t.ok(activeDoc.some((p) => p.name === 'stock-vocabulary'), `the audit made the planted vocabulary habit active: ${activeDoc.map((p) => `${p.name} ${p.prevalence.toFixed(2)}`).join(', ')}`);
  for (const p of docAudit.patterns) t.ok(p.ci[0] <= p.prevalence && p.prevalence <= p.ci[1], `${p.name}: prevalence inside its interval`);
  t.ok(status.stages.documents!.rejectedByReason['audit-pattern']! > 0, 'carriers of an active pattern were filtered');
  const chatAudit = report.audit.chats!;
  t.ok(chatAudit.patterns.some((p) => p.name === 'servile-closer' && p.active), 'the servile closer became active for chats');

  // Audit the run's own output.
  const documents = (await farm.exportLines(runId, 'documents')).map((d) => ({ id: String(d.id), text: String(d.text) }));
  const chats = (await farm.exportLines(runId, 'chats')).map((c) => ({ id: String(c.id), text: String((c.messages as { content: string }[])[1]!.content) }));
  for (const [kind, items, audit] of [['documents', documents, docAudit], ['chats', chats, chatAudit]] as const) {
    for (const pattern of audit.patterns.filter((p) => p.active && p.marker)) {
      // Carriers by the simulator's own detectors (the truth), not by the marker under test.
      const carriers = items.filter((i) => detectPatterns(i.text).includes(pattern.name)).length;
      t.ok(carriers / items.length <= filters.audit.maxPrevalence, `${kind}: ${pattern.name} in ${carriers} of ${items.length} accepted items, under ${filters.audit.maxPrevalence}`);
    }
  }
  const offline = auditItems(documents, resolveFilterSpec(filters), { kind: 'document' });
  const over = offline.findings.filter((f) => f.kind !== 'rule' && !f.pattern.startsWith('ngram') && f.prevalence > Math.max(f.ceiling ?? 0, 1 / documents.length));
  t.same(over.map((f) => f.pattern), [], 'the offline audit finds no opening, name or near-duplicate above its ceiling');
  t.same(offline.findings.filter((f) => f.kind === 'rule').map((f) => f.pattern), [], 'and no per-item rule fires on the accepted set');
  const rejected = await farm.exportLines(runId, 'rejected');
  const withheld = rejected.filter((r) => r.withheldAtEnd && r.stage === 'documents').length;
  t.equal(report.corpus.documents.accepted, documents.length + withheld, 'the shared statistics counted every document the filters passed');
  t.equal(documents.length, status.stages.documents!.accepted, 'status counts what the export holds');
  t.equal(rejected.filter((r) => r.stage === 'documents').length, status.stages.documents!.rejected, 'and every rejection, withheld ones included, is exported with its reason');
});
