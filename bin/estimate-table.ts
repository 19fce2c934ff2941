import type { Range, RunEstimate } from '../producer/run-estimate.js';

const count = (n: number) => n.toLocaleString('en-US');
const usd = (n: number) => `$${n < 1 ? n.toFixed(4) : n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const range = (r: Range, format: (n: number) => string) => (r.low === r.high ? format(r.low) : `${format(r.low)}–${format(r.high)}`);

/** `sdf-farm run --dry-run`: the estimate as a table, then what it assumes. */
export function formatEstimate(name: string, estimate: RunEstimate): string {
  const rows: string[][] = [['stage', 'model', 'tasks', 'calls', 'in tok/call', 'out tok/call', 'online USD', 'batch USD']];
  for (const [stage, s] of Object.entries(estimate.stages)) {
    rows.push([stage, s.model, count(s.tasks), range(s.calls, count), range(s.inputTokensPerCall, count), range(s.outputTokensPerCall, count), s.usd ? range(s.usd, usd) : 'unpriced', s.batchUsd ? range(s.batchUsd, usd) : 'unpriced']);
  }
  rows.push(['total', '', count(estimate.tasks), range(estimate.calls, count), '', '', range(estimate.usd, usd), range(estimate.batchUsd, usd)]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
  const out = [`estimate for ${name} (no run created, no model called): up to ${count(estimate.tasks)} tasks`, ...lines];
  if (estimate.unpricedModels.length > 0) out.push(`models without a price (not in the totals): ${estimate.unpricedModels.join(', ')}`);
  out.push('assumptions:', ...estimate.assumptions.map((a) => `  - ${a}`));
  return out.join('\n') + '\n';
}
