import { InvalidArgumentError } from 'commander';
import { hasEnded } from '../core/runs/run-state.js';
import type { RunStatus } from '../core/runs/run-status.js';
import type { FarmApiClient } from './api-client.js';
import { EXIT } from './exit-codes.js';
import { WatchView } from './watch-view.js';

export interface FollowOptions {
  /** Time between two status polls. @defaultValue 1000 */
  intervalMs?: number;
  /** One status JSON line per poll on stdout instead of the view (`--json`). @defaultValue false */
  json?: boolean;
}

/**
 * Polls a run's status until it ends, showing it as `sdf-farm watch` does (or as NDJSON), and
 * returns the last status. Used by `watch` and `submit --wait`.
 */
export async function followRun(client: FarmApiClient, runId: string, options: FollowOptions = {}): Promise<RunStatus> {
  const intervalMs = options.intervalMs ?? 1000;
  const view = options.json ? undefined : new WatchView();
  // Ctrl-C leaves the run running; only the view stops (and gives the cursor back).
  const onSigint = () => {
    view?.stop();
    process.stderr.write(`\nstopped watching; run ${runId} goes on (sdf-farm cancel ${runId} stops it)\n`);
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const status = await client.runStatus(runId);
      const ended = hasEnded(status.state);
      if (options.json) process.stdout.write(JSON.stringify(status) + '\n');
      else view!.update(status, ended);
      if (ended) return status;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    view?.stop();
    process.off('SIGINT', onSigint);
  }
}

/** 0 for a completed run, 1 for any other end (cancelled, failed, budget_exhausted). */
export function exitCodeOfRun(status: RunStatus): number {
  return status.state === 'completed' ? EXIT.ok : EXIT.failed;
}

/** A poll interval option's value, checked. */
export function intervalOption(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 50) throw new InvalidArgumentError('a whole number of milliseconds, at least 50');
  return ms;
}
