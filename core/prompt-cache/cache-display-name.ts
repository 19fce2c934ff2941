import { createHash } from 'node:crypto';

/**
 * The `displayName` every explicit cache of the farm gets: `sdf-farm/<farm>/<runId>/<key>`. Gemini
 * keeps caches per project, not per farm, so this name is how a farm finds its own among them:
 * a new owner of a run finds the caches a crashed owner made (created, but not yet recorded), and
 * a sweep finds those of runs that are over. `<farm>` is SDF_PREFIX, or a hash of it when it is
 * long: Gemini allows 128 characters.
 */
const MARK = 'sdf-farm';
const MAX_PREFIX = 60;

function farmTag(prefix: string): string {
  return prefix.length <= MAX_PREFIX ? prefix : createHash('sha256').update(prefix).digest('hex').slice(0, 16);
}

export function cacheDisplayName(prefix: string, runId: string, key: string): string {
  return `${MARK}/${farmTag(prefix)}/${runId}/${key}`;
}

/** The run and cache key of one of this farm's caches, or undefined for any other cache. */
export function parseCacheDisplayName(prefix: string, displayName: string | undefined): { runId: string; key: string } | undefined {
  const head = `${MARK}/${farmTag(prefix)}/`;
  if (!displayName?.startsWith(head)) return undefined;
  const [runId, key, ...rest] = displayName.slice(head.length).split('/');
  return runId && key && rest.length === 0 ? { runId, key } : undefined;
}
