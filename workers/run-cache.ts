import type { RunStore } from '../core/runs/run-store.js';
import type { RunState } from '../core/runs/run-state.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { FreshValues } from './fresh-values.js';

/**
 * What a worker knows of its runs, so a task costs no Redis read for them:
 * - the spec, read once per run: a run's spec never changes after submission (a run id is never
 *   reused, and nothing rewrites the `spec` field);
 * - the state, re-read at most every `stateTtlMs`: the bound within which a cancel (or a retry
 *   that reopens a finished run) reaches every worker; tested in test/workers/run-cache.test.ts.
 * Reads are single-flight: the tasks of a run that find its entry stale together (64 at once at
 * full concurrency) share one Redis read instead of sending one each.
 */
export class RunCache {
  readonly #specs = new Map<string, RunSpec | Promise<RunSpec | undefined>>();
  readonly #states: FreshValues<RunState | undefined>;

  constructor(
    readonly runs: RunStore,
    readonly stateTtlMs = 1000,
    readonly maxRuns = 200,
  ) {
    this.#states = new FreshValues((runId) => runs.state(runId), stateTtlMs, maxRuns);
  }

  spec(runId: string): RunSpec | Promise<RunSpec | undefined> {
    const cached = this.#specs.get(runId);
    if (cached) return cached;
    const reading = this.runs.find(runId).then(
      (run) => {
        // A run not found is not remembered: it may be a task that arrived before its run's record.
        if (run) this.#specs.set(runId, run.spec);
        else this.#specs.delete(runId);
        return run?.spec;
      },
      (err: unknown) => {
        this.#specs.delete(runId);
        throw err;
      },
    );
    this.#remember(this.#specs, runId, reading);
    return reading;
  }

  state(runId: string): RunState | undefined | Promise<RunState | undefined> {
    return this.#states.get(runId);
  }

  /** Bounded: the oldest run is forgotten first (runs are few; a forgotten one is read again). */
  #remember<V>(map: Map<string, V>, runId: string, value: V): void {
    map.delete(runId);
    if (map.size >= this.maxRuns) map.delete(map.keys().next().value!);
    map.set(runId, value);
  }
}
