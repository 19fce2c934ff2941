import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * The leases of the evals one serve drives: a key with a TTL holding this owner's token, taken
 * with SET NX, renewed on its own timer. The owner's writes check the token in their script
 * (EvalStore.fencedSet), so a serve that lost an eval writes nothing more to it.
 */
export class EvalLeases {
  readonly ownerId = `${process.pid.toString(36)}-${randomBytes(4).toString('hex')}`;
  readonly #held = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly redis: Redis,
    readonly ttlMs: number,
    readonly onLost: (key: string) => void,
  ) {}

  start(): void {
    this.#timer ??= setInterval(() => void this.renew(), Math.max(100, Math.floor(this.ttlMs / 3)));
  }

  /** This owner's token for the lease at `key`, taking it if free; undefined while another holds it. */
  async acquire(key: string): Promise<string | undefined> {
    const held = this.#held.get(key);
    if (held) return held;
    const token = `${this.ownerId}:${randomBytes(3).toString('hex')}`;
    if ((await this.redis.set(key, token, 'PX', this.ttlMs, 'NX')) !== 'OK') return undefined;
    this.#held.set(key, token);
    return token;
  }

  async renew(): Promise<void> {
    for (const [key, token] of this.#held) {
      try {
        if ((await this.redis.eval(RENEW, 1, key, token, this.ttlMs)) !== 1) {
          this.#held.delete(key);
          this.onLost(key);
        }
      } catch {
        // Redis unreachable: the next renewal tries again; fenced writes refuse meanwhile if it expired.
      }
    }
  }

  async release(key: string): Promise<void> {
    const token = this.#held.get(key);
    this.#held.delete(key);
    if (token) await this.redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const key of [...this.#held.keys()]) await this.release(key);
  }
}
