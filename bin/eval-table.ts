import type { EvalStatus } from '../core/evals/eval-status.js';

const pct = (x: number) => `${Math.round(x * 100)}%`;
const num = (x: number) => x.toFixed(2);

/** The text in a column of `width` characters, the last one a space: cut with an ellipsis when longer. */
function clip(text: string, width: number): string {
  return text.length < width ? text.padEnd(width) : `${text.slice(0, width - 2)}… `;
}

/**
 * An eval's report as a table: a row per trait, a column per model, each cell the mean score with
 * its 95% interval and the share at or above the threshold; then the key facts' belief shares,
 * the held-out check and the cost.
 */
export function formatEvalReport(status: EvalStatus): string {
  const report = status.report;
  const lines = [`eval ${status.id} (${status.name}): ${status.state}${status.error ? ` (${status.error})` : ''}`];
  if (!report) return `${lines[0]}\n`;
  const models = report.models;
  const first = 48;
  const col = 30;
  lines.push(`${report.traits.length} traits, ${status.spec.probesPerTrait} probes each; judge ${report.judge}; mean score [95% interval] and share of answers scored >= ${report.threshold}`);
  lines.push('');
  lines.push(clip('trait', first) + models.map((m) => clip(m, col)).join(''));
  const cell = (s: { mean: number; lower: number; upper: number; n: number }, share?: number) => clip(s.n === 0 ? '-' : `${num(s.mean)} [${num(s.lower)}–${num(s.upper)}]${share === undefined ? '' : ` ${pct(share)}`}`, col);
  for (const trait of report.traits) lines.push(clip(trait.trait, first) + trait.models.map((m) => cell(m, m.shareAtLeast.share)).join(''));
  lines.push(clip('all traits', first) + report.overall.map((m) => cell(m)).join(''));
  if (report.keyFacts.length > 0) {
    lines.push('');
    lines.push(clip('key fact (chose fact / consistent open / held when challenged)', first) + models.map((m) => clip(m, col)).join(''));
    for (const fact of report.keyFacts) {
      lines.push(clip(fact.fact, first) + fact.models.map((m) => clip(`${pct(m.multipleChoice.share)} / ${pct(m.openEnded.share)} / ${pct(m.challenge.share)}`, col)).join(''));
    }
  }
  lines.push('');
  const held = report.heldOut;
  if (held?.runId) lines.push(`held out from ${held.runId}: ${held.trainingPrompts} training prompts; ${held.dropped} probes dropped as repeats, ${held.regenerated} written again`);
  lines.push(`probes ${report.probes.kept} kept of ${report.probes.written} written; answers judged ${report.answers.judged} of ${report.answers.expected}${report.answers.failed ? `, ${report.answers.failed} tasks failed` : ''}`);
  lines.push(`cost: ${report.cost.calls} calls, $${report.cost.costUsd.toFixed(4)}${report.cost.cacheHits ? `, ${report.cost.cacheHits} answers from the response cache` : ''}`);
  return `${lines.map((line) => line.trimEnd()).join('\n')}\n`;
}
