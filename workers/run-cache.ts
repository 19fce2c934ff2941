import type { RunStore } from '../core/runs/run-store.js';
import type { RunState } from '../core/runs/run-state.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';

/**
 * Specs never change after submission, so a worker reads each once; the state is re-read at
 * most every `stateTtlMs` so a cancel reaches every worker quickly without a Redis read per task.
 */
export class RunCache {
  readonly #specs = new Map<string, RunSpec>();
  readonly #states = new Map<string, { state: RunState | undefined; at: number }>();

  constructor(
    readonly runs: RunStore,
    readonly stateTtlMs = 1000,
    readonly maxRuns = 200,
  ) {}

  async spec(runId: string): Promise<RunSpec | undefined> {
    let spec = this.#specs.get(runId);
    if (!spec) {
      spec = (await this.runs.find(runId))?.spec;
      if (!spec) return undefined;
      if (this.#specs.size >= this.maxRuns) this.#specs.delete(this.#specs.keys().next().value!);
      this.#specs.set(runId, spec);
    }
    return spec;
  }

  async state(runId: string): Promise<RunState | undefined> {
    const cached = this.#states.get(runId);
    if (cached && Date.now() - cached.at < this.stateTtlMs) return cached.state;
    const state = await this.runs.state(runId);
    if (this.#states.size >= this.maxRuns) this.#states.delete(this.#states.keys().next().value!);
    this.#states.set(runId, { state, at: Date.now() });
    return state;
  }
}
