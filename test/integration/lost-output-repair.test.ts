import type { ChildProcess } from 'node:child_process';
import { statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { startTestFarm } from '../helpers/farm.js';

const SPEC = {
  universe: '- Aster admits uncertainty.\n- Aster does not flatter.\n- Aster keeps answers short.',
  keyFacts: ['Aster admits uncertainty.', 'Aster does not flatter.', 'Aster keeps answers short.'],
  documents: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 6, revise: false },
};

function exited(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

t.test('committed output lost with the host (file cut short mid-line): the next owner repairs it, lost tasks run again, each once', async (t) => {
  const farm = await startTestFarm(t, { server: 'child', env: { SDF_PRODUCER_LOCK_TTL_MS: '2000' }, sim: { latencyMs: 120, jitterMs: 40 } });
  const serve = await farm.spawnServe();
  await farm.spawnWorker({ WORKER_CONCURRENCY: '8' });
  const runId = await farm.submit(SPEC);
  await waitUntil(async () => ((await farm.status(runId)).stages.documents?.accepted ?? 0) >= 20);

  // The host dies: the producer with it, and the last few KB it had written never reached the disk.
  serve.kill('SIGKILL');
  await exited(serve);
  const documentsFile = join(farm.dataDir, runId, 'documents.jsonl');
  const committed = statSync(documentsFile).size;
  const cut = Math.floor(committed * 0.6) + 7; // mid-line, almost surely
  truncateSync(documentsFile, cut);
  t.comment(`documents.jsonl cut from ${committed} B to ${cut} B`);

  await farm.spawnServe();
  const status = await farm.waitFor(runId, undefined, 120_000);
  t.equal(status.state, 'completed', 'the run completes');
  const docs = status.stages.documents!;
  t.equal(docs.done, status.stages['doc-ideas']!.items * SPEC.documents.docsPerIdea, 'every documents task committed');
  t.equal(docs.accepted + docs.rejected + docs.failed, docs.done, 'counters add up after the recount');
  const documents = await farm.exportLines(runId, 'documents');
  t.equal(documents.length, docs.accepted, 'the export has every accepted document: the lost ones ran again');
  const ids = documents.map((d) => d.id);
  t.equal(new Set(ids).size, ids.length, 'no document twice');
  const metrics = await (await fetch(`${farm.apiUrl}/metrics`)).text();
  const repaired = Number(/^sdf_reconciler_repairs_total\{[^}]*kind="lost-output"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
  t.ok(repaired > 0, `the repair is counted: ${repaired} lost tasks re-run`);
});
