import type { RunStatus } from '../core/runs/run-status.js';
import { STAGES } from '../core/stages.js';

/** One stage's line of `sdf-farm watch`. */
export interface StageProgress {
  stage: string;
  done: number;
  /** Tasks known so far (done + active + queued); grows as the run fans out. */
  total: number;
  /** Tasks done per second over the last `windowMs`; undefined until two polls are apart. */
  perSecond: number | undefined;
  /** Seconds to finish the tasks known so far at that rate; undefined without a rate. */
  etaSeconds: number | undefined;
  /** accepted / (accepted + rejected); undefined before the first verdict. */
  acceptance: number | undefined;
  usd: number;
}

/**
 * Rates of each stage over a sliding window of polls: a stage's pace changes as the run fans out,
 * so a rate since the start would lag, and one from the last two polls would jitter.
 */
export class StageRates {
  readonly #samples = new Map<string, { at: number; done: number }[]>();

  constructor(readonly windowMs = 10_000) {}

  progress(status: RunStatus, now = Date.now()): StageProgress[] {
    const rows: StageProgress[] = [];
    for (const stage of STAGES) {
      const s = status.stages[stage];
      if (!s) continue;
      const samples = this.#samples.get(stage) ?? [];
      samples.push({ at: now, done: s.done });
      while (samples.length > 2 && now - samples[0]!.at > this.windowMs) samples.shift();
      this.#samples.set(stage, samples);
      const first = samples[0]!;
      const perSecond = now > first.at ? ((s.done - first.done) * 1000) / (now - first.at) : undefined;
      const remaining = s.active + s.queued;
      const verdicts = s.accepted + s.rejected;
      rows.push({
        stage,
        done: s.done,
        total: s.done + remaining,
        perSecond,
        etaSeconds: remaining === 0 ? 0 : perSecond ? remaining / perSecond : undefined,
        acceptance: verdicts > 0 ? s.accepted / verdicts : undefined,
        usd: status.spend?.stages[stage]?.usd ?? 0,
      });
    }
    return rows;
  }
}

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The parts of a stage's line after its bar or counts: rate, ETA, acceptance, spend. */
export function stageDetail(row: StageProgress): string {
  const rate = row.perSecond === undefined ? '?/s' : `${row.perSecond.toFixed(1)}/s`;
  const acceptance = row.acceptance === undefined ? '-' : `${Math.round(row.acceptance * 100)}%`;
  return `${rate} | ETA ${formatDuration(row.etaSeconds)} | accepted ${acceptance} | $${row.usd.toFixed(4)}`;
}

/** The run's line above its stages: state, spend (and budget), dead letters. */
export function runHeadline(status: RunStatus): string {
  const budget = status.budget ? ` of $${status.budget.usd} budget` : '';
  const dead = status.deadLetters ? `, ${status.deadLetters} dead-lettered` : '';
  return `run ${status.id} (${status.name}): ${status.state}, $${status.costUsd.toFixed(4)} spent${budget}${dead}`;
}
