import type { Redis } from 'ioredis';
import { markerRegex, type PatternReport } from '../core/audit/llm-audit.js';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { runKeys } from '../core/keys.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { committedRecords, recordText } from './read-lines.js';
import { runFilePath } from './run-files.js';

const KINDS = [
  { kind: 'document', file: 'documents', stageOf: (id: string) => (id.startsWith('revise-') ? 'revise' : 'documents') },
  { kind: 'chat', file: 'chats', stageOf: () => 'chat-responses' },
] as const;

/**
 * When a run ends, items accepted before a pattern became active are checked against the final
 * audit: in `filter` mode every carrier is withheld, in `downsample` mode carriers beyond the
 * ceiling share are. Withheld records stay in the append-only files but leave the export (they
 * are exported as rejections instead), all in one transaction, once: the accepted set the user
 * downloads holds no active pattern above its ceiling.
 */
export async function finalizePatterns(redis: Redis, prefix: string, dataDir: string, runId: string, spec: RunSpec): Promise<number> {
  const audit = resolveFilterSpec(spec.filters).audit;
  const keys = runKeys(prefix, runId);
  if (!audit.enabled || (await redis.hget(keys.meta, 'patternsFinalized'))) return 0;
  const tx = redis.multi().hset(keys.meta, 'patternsFinalized', '1');
  let total = 0;
  for (const { kind, file, stageOf } of KINDS) {
    const raw = await redis.get(keys.patterns(kind));
    const active = ((raw ? (JSON.parse(raw) as PatternReport) : undefined)?.patterns ?? []).filter((p) => p.active && p.marker);
    const committed = Number((await redis.hget(keys.offsets, file)) ?? 0);
    if (active.length === 0) continue;
    const records: { id: string; text: string }[] = [];
    for await (const record of committedRecords(runFilePath(dataDir, runId, file), committed)) records.push({ id: String(record.id), text: recordText(record) });
    const withheld = new Map<string, { pattern: string; span: string; stage: string }>();
    for (const pattern of active) {
      const regex = markerRegex(pattern.marker!);
      const kept = records.filter((r) => !withheld.has(r.id));
      const carriers = kept.filter((r) => regex.test(r.text));
      const allowed = audit.mode === 'filter' ? 0 : Math.floor((audit.maxPrevalence * (kept.length - carriers.length)) / (1 - audit.maxPrevalence));
      for (const r of carriers.slice(allowed)) withheld.set(r.id, { pattern: pattern.name, span: regex.exec(r.text)?.[0] ?? '', stage: stageOf(r.id) });
    }
    if (withheld.size === 0) continue;
    total += withheld.size;
    tx.hset(keys.withheld(kind), Object.fromEntries([...withheld].map(([id, w]) => [id, JSON.stringify(w)])));
    for (const w of withheld.values()) {
      tx.hincrby(keys.stats, `${w.stage}:accepted`, -1).hincrby(keys.stats, `${w.stage}:rejected`, 1).hincrby(keys.stats, `${w.stage}:reason:audit-pattern`, 1);
    }
  }
  await tx.exec();
  return total;
}
