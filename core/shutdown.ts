import closeWithGrace from 'close-with-grace';
import type { Logger } from './logger.js';
import { whenRedisSilent } from './redis-silence.js';

/** A running service as the shutdown sees it. */
export interface Closable {
  /** Drains and closes cleanly; may wait on Redis. */
  close(): Promise<void>;
  /**
   * Gives up on Redis: closes what does not need it and drops the Redis connections, so nothing
   * waits on them any longer. Called when Redis stops answering during a drain.
   */
  abort?(): Promise<void> | void;
}

export interface ShutdownOptions {
  /** Longest a drain may take; past it the process exits 1. */
  graceMs: number;
  /** Give up draining once Redis at `url` has not answered for `timeoutMs` (SDF_SHUTDOWN_REDIS_TIMEOUT_MS). */
  redis?: { url: string; timeoutMs: number };
}

/** How long an abort may take: it closes local things (servers, sockets), which do not need long. */
const ABORT_MS = 2_000;

/**
 * Makes a long-running process stop cleanly: the first SIGTERM/SIGINT (or an uncaught error)
 * closes the service and exits 0 (1 after an error); a second signal, or `graceMs` passing,
 * exits 1 at once. The one place a process decides to exit.
 *
 * A drain needs Redis (tasks are acked and results published through it), so while it goes on
 * Redis is watched: once it has not answered for `redis.timeoutMs` the drain cannot finish,
 * and waiting out the grace period (ten minutes for a worker) helps no one. The service is then
 * aborted and the process exits 1, saying why; tasks it held go back to their queues when
 * their locks expire.
 *
 * Installed before the service finishes starting, so a signal that arrives during start-up (a
 * pod scaled down as it boots) still waits for the start and then closes what was opened.
 */
export function closeOnSignals(starting: Promise<Closable>, logger: Logger, options: ShutdownOptions): void {
  const { graceMs, redis } = options;
  closeWithGrace(
    {
      delay: graceMs,
      logger: { error: (err: unknown) => logger.error({ err }, 'shutdown failed') },
      onSecondSignal: (signal) => logger.warn({ signal }, 'second signal: exiting now'),
      onSecondError: (err) => logger.error({ err }, 'another error while closing: exiting now'),
      onTimeout: (delay) => logger.error({ graceMs: delay }, 'shutdown grace period passed: exiting'),
    },
    async ({ signal, err }) => {
      if (err) logger.error({ err }, 'uncaught error: closing');
      else logger.info({ signal, graceMs }, 'draining; send the signal again to force exit');
      // A start that failed has already been reported by the command; there is nothing to close.
      const service = starting.catch(() => undefined);
      const closed = service.then((s) => s?.close()).then(() => 'closed' as const);
      if (!redis) return void (await closed);

      const stopWatching = new AbortController();
      const silent = whenRedisSilent(redis.url, redis.timeoutMs, stopWatching.signal).then((ms) => ({ silentMs: ms }));
      const outcome = await Promise.race([closed, silent]).finally(() => stopWatching.abort());
      if (outcome === 'closed') return;

      const why =
        `Redis at ${redactUrl(redis.url)} has not answered for ${outcome.silentMs} ms ` +
        `(SDF_SHUTDOWN_REDIS_TIMEOUT_MS=${redis.timeoutMs}): gave up draining; tasks in flight return to their queues when their locks expire`;
      logger.error({ redisUrl: redactUrl(redis.url), silentMs: outcome.silentMs }, why);
      const aborted = service.then((s) => s?.abort?.());
      const gaveUp = new Promise<'late'>((resolve) => setTimeout(resolve, ABORT_MS, 'late').unref());
      if ((await Promise.race([aborted.catch((e: unknown) => logger.error({ err: e }, 'abort failed')), gaveUp])) === 'late') {
        logger.error({ abortMs: ABORT_MS }, 'closing what does not need Redis took too long: exiting anyway');
      }
      // Thrown so close-with-grace exits 1: the drain did not complete.
      throw new Error('drain abandoned: Redis did not answer');
    },
  );
}

/** A Redis URL without its password, for logs. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
