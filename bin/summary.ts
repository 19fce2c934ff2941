import type { RunStatus } from '../core/runs/run-status.js';

/** The end-of-run report: per-stage counts, rejection reasons, tokens, time, where the files are. */
export function printSummary(status: RunStatus, files: Record<string, { path: string; records: number }>, seconds: number): void {
  const out = process.stdout;
  out.write(`\nrun ${status.id} (${status.name}): ${status.state} in ${seconds.toFixed(1)} s\n`);
  out.write(stageTable(status));
  const cached = status.tokens.cached ? ` (${status.tokens.cached} cached, saving $${status.cacheSavingUsd.toFixed(4)})` : '';
  out.write(`model calls ${status.calls}, tokens in ${status.tokens.prompt}${cached}, out ${status.tokens.output}, est. cost $${status.costUsd.toFixed(4)}${status.unpricedCalls ? ` + ${status.unpricedCalls} calls of unpriced models (${status.unpricedModels.join(', ')})` : ''}\n`);
  if (status.cache?.hits) out.write(`response cache: ${status.cache.hits} answers without a call, $${status.cache.savedUsd.toFixed(4)} saved\n`);
  if (status.budget) out.write(`budget $${status.budget.usd}: spent $${status.budget.spentUsd.toFixed(4)}${status.state === 'budget_exhausted' ? ' (the run stopped on its budget; raise it with PATCH /v1/runs/:id on a serve to resume)' : ''}\n`);
  for (const [kind, f] of Object.entries(files)) out.write(`${kind.padEnd(10)} ${String(f.records).padStart(7)} records  ${f.path}\n`);
  if (status.deadLetters > 0) out.write(`dead-lettered tasks: ${status.deadLetters} (see GET /v1/runs/${status.id})\n`);
}

/** Per-stage counts and rejection reasons, one line a stage (the summary's and `sdf-farm status RUN`'s). */
export function stageTable(status: RunStatus): string {
  const lines = [`${'stage'.padEnd(16)}${'done'.padStart(8)}${'accepted'.padStart(10)}${'rejected'.padStart(10)}${'failed'.padStart(8)}${'items'.padStart(8)}  rejections`];
  for (const [stage, s] of Object.entries(status.stages)) {
    const reasons = Object.entries(s.rejectedByReason)
      .sort((a, b) => b[1] - a[1])
      .map(([r, n]) => `${r}=${n}`)
      .join(' ');
    lines.push(`${stage.padEnd(16)}${String(s.done).padStart(8)}${String(s.accepted).padStart(10)}${String(s.rejected).padStart(10)}${String(s.failed).padStart(8)}${String(s.items).padStart(8)}  ${reasons}`);
  }
  return lines.map((l) => l.trimEnd()).join('\n') + '\n';
}
