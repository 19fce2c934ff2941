/**
 * Whether an SDK error says a request's explicit cache (`config.cachedContent`) cannot be used:
 * it expired, was deleted, or never existed. Gemini answers a missing cache with 403
 * PERMISSION_DENIED "CachedContent not found (or permission denied)" on generateContent and on
 * GET alike; 404 and 400 ("Cache content … is expired") are treated the same. The caller can
 * always do without the cache by sending the prefix itself.
 */
export function isCacheGone(err: unknown): boolean {
  const status = (err as { status?: unknown })?.status;
  if (status !== 400 && status !== 403 && status !== 404) return false;
  return /cached? ?content/i.test(String((err as { message?: unknown })?.message ?? ''));
}
