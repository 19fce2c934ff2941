import { redisAnswers } from './redis.js';

/**
 * Resolves once Redis at `url` has gone `timeoutMs` without answering a probe (counted from the
 * start, or from its last answer), with how long it was silent; never resolves if `stop` is
 * aborted first. Each probe is a fresh connection: the service's own connections queue commands
 * while Redis is away, so they cannot tell "slow" from "gone".
 */
export function whenRedisSilent(url: string, timeoutMs: number, stop: AbortSignal): Promise<number> {
  return new Promise((resolve) => {
    let lastAnswer = Date.now();
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());
    void (async () => {
      while (!stop.aborted) {
        const left = lastAnswer + timeoutMs - Date.now();
        if (left <= 0) return resolve(Date.now() - lastAnswer);
        if (await redisAnswers(url, Math.max(left, 50))) {
          lastAnswer = Date.now();
          // A healthy Redis is looked at about once a second while a drain goes on.
          await pause(Math.min(1000, timeoutMs / 2));
        } else {
          // Refused at once (Redis down, not hung): look again soon, until the deadline.
          await pause(Math.min(200, Math.max(0, lastAnswer + timeoutMs - Date.now())));
        }
      }
    })();
  });
}
