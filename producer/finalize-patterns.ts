import type { Redis } from 'ioredis';
import { markerRegex, type PatternReport } from '../core/audit/llm-audit.js';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { runKeys } from '../core/keys.js';
import type { RunSpec } from '../core/spec/run-spec-schema.js';
import { committedRecords, recordText, runFilePath } from '../core/runs/run-files.js';

const KINDS = [
  { kind: 'document', file: 'documents', stageOf: (id: string) => (id.startsWith('revise-') ? 'revise' : 'documents') },
  // A multi-turn chat that a rejected user turn ended was written by chat-user.
  { kind: 'chat', file: 'chats', stageOf: (id: string) => (id.startsWith('chat-user-') ? 'chat-user' : 'chat-responses') },
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
    if (active.length === 0) continue;
    const committed = Number((await redis.hget(keys.offsets, file)) ?? 0);
    const path = runFilePath(dataDir, runId, file);
    // Streamed, two passes per pattern (count, then choose), so memory holds the withheld ids, not the run's texts.
    const withheld = new Map<string, { pattern: string; span: string; stage: string }>();
    for (const pattern of active) {
      const regex = markerRegex(pattern.marker!);
      let kept = 0;
      let carriers = 0;
      for await (const record of committedRecords(path, committed)) {
        if (withheld.has(String(record.id))) continue;
        kept++;
        if (regex.test(recordText(record))) carriers++;
      }
      const allowed = audit.mode === 'filter' ? 0 : Math.floor((audit.maxPrevalence * (kept - carriers)) / (1 - audit.maxPrevalence));
      if (carriers <= allowed) continue;
      let seen = 0;
      for await (const record of committedRecords(path, committed)) {
        const id = String(record.id);
        if (withheld.has(id)) continue;
        const match = regex.exec(recordText(record));
        if (match && ++seen > allowed) withheld.set(id, { pattern: pattern.name, span: match[0], stage: stageOf(id) });
      }
    }
    if (withheld.size === 0) continue;
    total += withheld.size;
    tx.hset(keys.withheld(kind), Object.fromEntries([...withheld].map(([id, w]) => [id, JSON.stringify(w)])));
    const perStage = new Map<string, number>();
    for (const w of withheld.values()) perStage.set(w.stage, (perStage.get(w.stage) ?? 0) + 1);
    for (const [stage, n] of perStage) {
      tx.hincrby(keys.stats, `${stage}:accepted`, -n).hincrby(keys.stats, `${stage}:rejected`, n).hincrby(keys.stats, `${stage}:reason:audit-pattern`, n);
    }
  }
  await tx.exec();
  return total;
}
