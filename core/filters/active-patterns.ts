import type { Redis } from 'ioredis';
import { markerRegex, type PatternReport } from '../audit/llm-audit.js';
import { runKeys } from '../keys.js';
import type { Rejection } from '../task.js';
import type { ResolvedFilterSpec } from './filter-spec.js';

const REFRESH_MS = 1000;

/**
 * Patterns the latest LLM audit found above `filters.audit.maxPrevalence` become filters: an
 * item carrying one (by the marker the audit gave) is rejected (`filter`), or accepted only while
 * the pattern stays under the ceiling share (`downsample`). A pattern without a marker is
 * reported but not enforced: labelling every item with a model call would double the cost.
 */
export class ActivePatterns {
  #loadedAt = 0;
  #active: { name: string; regex: RegExp }[] = [];

  constructor(
    readonly redis: Redis,
    readonly prefix: string,
    readonly runId: string,
    readonly kind: 'document' | 'chat',
    readonly spec: ResolvedFilterSpec,
  ) {}

  async #refresh(): Promise<void> {
    if (Date.now() - this.#loadedAt < REFRESH_MS) return;
    this.#loadedAt = Date.now();
    const raw = await this.redis.get(runKeys(this.prefix, this.runId).patterns(this.kind));
    const report = raw ? (JSON.parse(raw) as PatternReport) : undefined;
    this.#active = (report?.patterns ?? []).filter((p) => p.active && p.marker).map((p) => ({ name: p.name, regex: markerRegex(p.marker!) }));
  }

  async check(text: string, accepted: () => Promise<number>): Promise<Rejection | null> {
    if (!this.spec.audit.enabled) return null;
    await this.#refresh();
    for (const pattern of this.#active) {
      const match = pattern.regex.exec(text);
      if (!match) continue;
      if (this.spec.audit.mode === 'filter') return { reason: 'audit-pattern', rule: `audit:${pattern.name}`, span: match[0].slice(0, 200) };
      const key = runKeys(this.prefix, this.runId).patternCounts(this.kind);
      const carriers = await this.redis.hincrby(key, pattern.name, 1);
      const ceiling = Math.max(1, Math.floor(this.spec.audit.maxPrevalence * Math.max((await accepted()) + 1, this.spec.corpus.warmup)));
      if (carriers > ceiling) {
        await this.redis.hincrby(key, pattern.name, -1);
        return { reason: 'audit-pattern', rule: `audit:${pattern.name}`, span: match[0].slice(0, 200), detail: `downsampled: ${carriers - 1} carriers already, ceiling ${ceiling}` };
      }
    }
    return null;
  }
}
