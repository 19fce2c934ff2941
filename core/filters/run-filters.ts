import type { Redis } from 'ioredis';
import { runKeys } from '../keys.js';
import type { RunSpec } from '../spec/run-spec-schema.js';
import type { Rejection } from '../task.js';
import { CorpusGate } from './corpus-gate.js';
import { resolveFilterSpec, type ResolvedFilterSpec } from './filter-spec.js';
import { createItemFilter, type FilterSubject } from './item-rules.js';
import { ActivePatterns } from './active-patterns.js';

/**
 * Every filter of one run, cheapest first: per-item rules (in process), patterns the LLM audit
 * made active, then the shared corpus gate (near-duplicates and feature ceilings, one Redis call). An item is recorded in the corpus
 * statistics only when it passes both.
 */
export class RunFilters {
  readonly spec: ResolvedFilterSpec;
  readonly #items: (subject: FilterSubject) => Rejection | null;
  readonly #gates: Record<'document' | 'chat', CorpusGate>;
  readonly #patterns: Record<'document' | 'chat', ActivePatterns>;

  constructor(redis: Redis, prefix: string, runId: string, runSpec: RunSpec) {
    this.spec = resolveFilterSpec(runSpec.filters);
    this.#items = createItemFilter(this.spec, runSpec.universe);
    const keys = runKeys(prefix, runId);
    this.#gates = {
      document: new CorpusGate(redis, keys.corpus('document'), this.spec),
      chat: new CorpusGate(redis, keys.corpus('chat'), this.spec),
    };
    this.#patterns = {
      document: new ActivePatterns(redis, prefix, runId, 'document', this.spec),
      chat: new ActivePatterns(redis, prefix, runId, 'chat', this.spec),
    };
  }

  async check(subject: FilterSubject, id: string): Promise<Rejection | null> {
    const gate = this.#gates[subject.kind];
    return this.#items(subject) ?? (await this.#patterns[subject.kind].check(subject.text, () => gate.accepted())) ?? (await gate.admit(subject.text, id));
  }

  gate(kind: 'document' | 'chat'): CorpusGate {
    return this.#gates[kind];
  }
}
