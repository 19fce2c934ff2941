import type { Redis } from 'ioredis';
import type { PatternReport } from '../audit/llm-audit.js';
import { markerRegex } from '../audit/marker.js';
import { runKeys } from '../keys.js';
import type { ResolvedFilterSpec } from './filter-spec.js';

const REFRESH_MS = 1000;

export interface CarriedPattern {
  name: string;
  /** The marker's match in the text. */
  span: string;
}

/**
 * Patterns the latest LLM audit found above `filters.audit.maxPrevalence` become filters: which
 * of them an item carries, by the markers the audit checked against its labels (literal phrases,
 * matched in linear time whatever the model wrote: see core/audit/marker.ts). What happens to a
 * carrier is the caller's: rejected (`filter`), or counted by the corpus gate against the ceiling
 * in the same atomic step that accepts it (`downsample`). A pattern without a marker is reported
 * but not enforced: labelling every item with a model call would double the cost.
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

  /** The active patterns `text` carries; none when the audit is off. */
  async carried(text: string): Promise<CarriedPattern[]> {
    if (!this.spec.audit.enabled) return [];
    await this.#refresh();
    const carried: CarriedPattern[] = [];
    for (const pattern of this.#active) {
      const match = pattern.regex.exec(text);
      if (match) carried.push({ name: pattern.name, span: match[0].slice(0, 200) });
    }
    return carried;
  }
}
