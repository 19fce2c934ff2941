import type { Redis } from 'ioredis';
import { runKeys } from '../keys.js';
import type { RunSpec } from '../spec/run-spec-schema.js';
import type { Rejection } from '../task.js';
import { CorpusGate, type ReplacedItem } from './corpus-gate.js';
import { resolveFilterSpec, type ResolvedFilterSpec } from './filter-spec.js';
import { createItemFilter, type FilterSubject } from './item-rules.js';
import { ActivePatterns, type CarriedPattern } from './active-patterns.js';
import { chatPatternsIn, type CarriedChatPattern } from './chat-patterns.js';

/** How an item enters the corpus statistics (see CorpusGate): as a draft revise will replace, or as the revision replacing one. */
export interface CheckOptions {
  provisional?: boolean;
  replaces?: ReplacedItem;
}

/**
 * Every filter of one run, cheapest first: per-item rules (in process), patterns the LLM audit
 * made active, then the shared corpus gate (near-duplicates, feature ceilings, the named chat
 * patterns' ceilings and, in downsample mode, pattern ceilings, one Redis call). An item is recorded in the corpus statistics only
 * when it passes all of them.
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
      document: new CorpusGate(redis, keys.corpus('document'), this.spec, keys.patternCounts('document')),
      chat: new CorpusGate(redis, keys.corpus('chat'), this.spec, keys.patternCounts('chat')),
    };
    this.#patterns = {
      document: new ActivePatterns(redis, prefix, runId, 'document', this.spec),
      chat: new ActivePatterns(redis, prefix, runId, 'chat', this.spec),
    };
  }

  async check(subject: FilterSubject, id: string, options: CheckOptions = {}): Promise<Rejection | null> {
    const gate = this.#gates[subject.kind];
    let early = this.#items(subject);
    let carried: CarriedPattern[] = [];
    if (!early) {
      carried = await this.#patterns[subject.kind].carried(subject.text);
      // In filter mode a carrier is out here; in downsample mode the gate counts it against the ceiling.
      if (carried[0] && this.spec.audit.mode === 'filter') early = { reason: 'audit-pattern', rule: `audit:${carried[0].name}`, span: carried[0].span };
    }
    if (early) {
      // The revision is out, so its draft is too: one document never counts twice, nor once for nothing.
      if (options.replaces) await gate.release(options.replaces);
      return early;
    }
    // Named chat patterns are counted by the gate in the same step (their ceilings are corpus-wide).
    const named: CarriedChatPattern[] = subject.kind === 'chat' && this.spec.corpus.enabled ? chatPatternsIn(subject.text, this.spec) : [];
    const rejection = await gate.admit(subject.text, id, { carriers: carried.map((c) => c.name), named, ...options });
    const span =
      rejection?.reason === 'audit-pattern' ? carried.find((c) => rejection.rule === `audit:${c.name}`)?.span : named.find((n) => rejection?.rule === `corpus:${n.name}`)?.span;
    return span ? { ...rejection!, span } : rejection;
  }

  gate(kind: 'document' | 'chat'): CorpusGate {
    return this.#gates[kind];
  }
}
