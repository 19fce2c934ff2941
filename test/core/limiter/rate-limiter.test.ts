import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import t, { type Test } from 'tap';
import { parseLimits, limitsFor } from '../../../core/limiter/model-limits.js';
import { RateLimiter } from '../../../core/limiter/rate-limiter.js';
import { REPO_ROOT } from '../../helpers/farm.js';
import { TEST_REDIS_URL, testRedis } from '../../helpers/redis.js';

function clock(start = Date.parse('2026-03-01T12:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

t.test('RPM: many concurrent callers at one instant get exactly rpm grants, then a wait until the window frees', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 60_000 });
  const limits = { rpm: 10 };
  const grants = await Promise.all(Array.from({ length: 40 }, () => limiter.tryAcquire('m', 1, limits)));
  t.equal(grants.filter((g) => g.ok).length, 10);
  const refused = grants.find((g) => !g.ok);
  t.match(refused, { ok: false, reason: 'rpm', retryInMs: 60_000 });
  c.advance(59_999);
  t.equal((await limiter.tryAcquire('m', 1, limits)).ok, false);
  c.advance(1);
  t.equal((await limiter.tryAcquire('m', 1, limits)).ok, true, 'the first grants left the window');
});

t.test('sliding window: over a random timeline, no window holds more than rpm grants', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const window = 60_000;
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: window });
  const granted: number[] = [];
  for (let step = 0; step < 400; step++) {
    c.advance(Math.floor(Math.random() * 1500));
    const burst = await Promise.all(Array.from({ length: 1 + Math.floor(Math.random() * 4) }, () => limiter.tryAcquire('m', 1, { rpm: 30 })));
    for (const g of burst) if (g.ok) granted.push(c.now());
  }
  let worst = 0;
  for (let i = 0, j = 0; i < granted.length; i++) {
    while (granted[i]! - granted[j]! >= window) j++;
    worst = Math.max(worst, i - j + 1);
  }
  t.equal(worst, 30, 'the busiest window is exactly full, never over');
});

t.test('TPM: reservations count estimated tokens and settle to the real count', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 60_000 });
  const limits = { tpm: 1000 };
  const a = await limiter.tryAcquire('m', 600, limits);
  t.ok(a.ok);
  t.match(await limiter.tryAcquire('m', 600, limits), { ok: false, reason: 'tpm' });
  if (a.ok) await a.reservation.settle(300);
  t.ok((await limiter.tryAcquire('m', 600, limits)).ok, 'the over-estimate was given back');
  t.match(await limiter.tryAcquire('m', 200, limits), { ok: false, reason: 'tpm' });
  c.advance(60_000);
  t.ok((await limiter.tryAcquire('m', 900, limits)).ok, 'settled tokens leave the window with their call');
});

t.test('TPM: a call estimated above the whole TPM goes alone into an empty window, not never', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 60_000 });
  const limits = { tpm: 100 };
  t.ok((await limiter.tryAcquire('m', 10, limits)).ok);
  t.match(await limiter.tryAcquire('m', 250, limits), { ok: false, reason: 'tpm', retryInMs: 60_000 }, 'it waits for the window to empty');
  c.advance(60_000);
  t.ok((await limiter.tryAcquire('m', 250, limits)).ok, 'then it is granted alone');
  t.match(await limiter.tryAcquire('m', 1, limits), { ok: false, reason: 'tpm', retryInMs: 60_000 }, 'and nothing else until it leaves');
});

t.test('RPD: the daily quota stops the model until the next Pacific midnight, standard and daylight time', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  // 23:59 PST on 1 March (07:59 UTC on the 2nd is still the 1st in California).
  const c = clock(Date.parse('2026-03-02T07:59:00Z'));
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 1000 });
  const limits = { rpd: 3 };
  for (let i = 0; i < 3; i++) t.ok((await limiter.tryAcquire('m', 1, limits)).ok);
  t.match(await limiter.tryAcquire('m', 1, limits), { ok: false, reason: 'rpd', retryInMs: 60_000 });
  c.advance(60_000);
  t.ok((await limiter.tryAcquire('m', 1, limits)).ok, 'a new Pacific day, a new quota');

  // 23:59 PDT on 30 June is 06:59 UTC on 1 July.
  const summer = clock(Date.parse('2026-07-01T06:59:00Z'));
  const other = new RateLimiter({ redis, prefix, now: summer.now, windowMs: 1000 });
  t.ok((await other.tryAcquire('s', 1, { rpd: 1 })).ok);
  t.match(await other.tryAcquire('s', 1, { rpd: 1 }), { ok: false, reason: 'rpd', retryInMs: 60_000 });
  summer.advance(60_000);
  t.ok((await other.tryAcquire('s', 1, { rpd: 1 })).ok, 'daylight time: the day ends at 07:00 UTC');
});

t.test('RPD: UTC midnight is not the end of the day', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock(Date.parse('2026-03-01T23:59:00Z'));
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 1000 });
  for (let i = 0; i < 2; i++) t.ok((await limiter.tryAcquire('m', 1, { rpd: 2 })).ok);
  c.advance(2 * 60_000);
  // 00:01 UTC on the 2nd is 16:01 PST on the 1st: eight hours before the quota comes back.
  t.match(await limiter.tryAcquire('m', 1, { rpd: 2 }), { ok: false, reason: 'rpd', retryInMs: 8 * 3_600_000 - 60_000 });
  t.same(await redis.hkeys(`${prefix}:limiter:m:rpd`), ['2026-03-01'], 'one count, keyed by the Pacific date');
  c.advance(8 * 3_600_000 - 60_000);
  t.ok((await limiter.tryAcquire('m', 1, { rpd: 2 })).ok);
  t.same(await redis.hkeys(`${prefix}:limiter:m:rpd`), ['2026-03-02'], 'the finished day is dropped');
});

t.test('a settled token correction is not a request: RPM counts grants only', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 60_000 });
  const limits = { rpm: 3, tpm: 10_000 };
  for (const actual of [25, 5, 40]) {
    const g = await limiter.tryAcquire('m', 10, limits);
    t.ok(g.ok, 'granted while under rpm, whatever earlier calls settled to');
    if (g.ok) await g.reservation.settle(actual);
  }
  t.match(await limiter.tryAcquire('m', 10, limits), { ok: false, reason: 'rpm' }, 'the fourth request in the minute waits');
  t.equal(await redis.zcard(`${prefix}:limiter:m:log`), 3, 'one log entry per grant');
  t.equal(Number(await redis.get(`${prefix}:limiter:m:tokens`)), 25 + 5 + 40, 'the window holds the settled real tokens');
});

t.test('TPM counts settled real tokens, which leave the window with their grant; a late correction changes nothing', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock();
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 60_000 });
  const limits = { rpm: 100, tpm: 1000 };
  const a = await limiter.tryAcquire('m', 100, limits);
  if (a.ok) await a.reservation.settle(700);
  c.advance(10_000);
  t.ok((await limiter.tryAcquire('m', 300, limits)).ok, '700 + 300 fits');
  t.match(await limiter.tryAcquire('m', 1, limits), { ok: false, reason: 'tpm', retryInMs: 50_000 }, 'full until the 700 leave');
  c.advance(50_000);
  const late = await limiter.tryAcquire('m', 600, limits);
  t.ok(late.ok, 'the first grant left with its real 700 tokens');
  c.advance(60_000);
  t.ok((await limiter.tryAcquire('m', 900, limits)).ok);
  if (late.ok) await late.reservation.settle(10);
  t.equal(await redis.zcard(`${prefix}:limiter:m:log`), 1, 'the late correction left no entry');
  t.match(await limiter.tryAcquire('m', 101, limits), { ok: false, reason: 'tpm' }, 'and freed nothing');
  t.ok((await limiter.tryAcquire('m', 100, limits)).ok);
});

t.test('rpm and tpm both set, estimates unlike real counts, many concurrent callers: the fullest window holds the rpm cap', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const windowMs = 2000;
  const rpm = 40;
  const limiter = new RateLimiter({ redis, prefix, windowMs });
  const limits = { rpm, tpm: 1_000_000 };
  const grants: number[] = [];
  const until = Date.now() + 3 * windowMs + 500;
  await Promise.all(
    Array.from({ length: 24 }, async () => {
      while (Date.now() < until) {
        const g = await limiter.tryAcquire('m', 100, limits);
        if (!g.ok) {
          await new Promise((r) => setTimeout(r, Math.min(g.retryInMs, 25) + Math.random() * 10));
          continue;
        }
        grants.push(g.grantedAt);
        // The call takes a while, then its real token count (never the estimate) is settled.
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 40));
        await g.reservation.settle(120 + Math.floor(Math.random() * 40));
      }
    }),
  );
  grants.sort((a, b) => a - b);
  let fullest = 0;
  for (let i = 0, j = 0; i < grants.length; i++) {
    while (grants[i]! - grants[j]! >= windowMs) j++;
    fullest = Math.max(fullest, i - j + 1);
  }
  t.comment(`fullest ${windowMs} ms window: ${fullest} grants, cap ${rpm}; ${grants.length} grants in all`);
  t.ok(fullest >= Math.ceil(rpm * 0.95), `the fullest window holds >= 95% of the cap (${fullest} of ${rpm})`);
  t.ok(fullest <= rpm, `and never more than the cap (${fullest} of ${rpm})`);
});

/** Every command clients send on keys under `prefix`, as MONITOR sees them (not the commands scripts run inside Redis). */
async function watchCommands(t: Test, redis: Redis, prefix: string) {
  const monitor = await redis.monitor();
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua' && args.some((a) => String(a).startsWith(prefix))) seen.push(args.map(String));
  });
  t.teardown(() => monitor.disconnect());
  return {
    /** Waits for MONITOR to catch up, then gives what it saw since the last call. */
    async take() {
      await redis.ping();
      await new Promise((r) => setTimeout(r, 150));
      return seen.splice(0);
    },
  };
}

t.test('at the full rate a success makes no Redis round trip; below it, successes count', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const limiter = new RateLimiter({ redis, prefix, windowMs: 60_000 });
  const watch = await watchCommands(t, redis, prefix);
  await watch.take();
  t.match(await limiter.tryAcquire('m', 1, { rpm: 1000 }), { ok: true, factor: 1 });
  await watch.take();
  for (let i = 0; i < 20; i++) t.equal(await limiter.reportSuccess('m'), 1);
  t.same(await watch.take(), [], 'twenty successes at factor 1: no command');

  t.equal(await limiter.reportRateLimited('m'), 0.8);
  await watch.take();
  await limiter.reportSuccess('m');
  t.equal((await watch.take()).length, 1, 'below the full rate each success is counted in Redis');
  t.equal(await redis.hget(`${prefix}:limiter:m:adapt`, 'streak'), '1');
});

t.test('scripts are sent once per connection, then called by SHA', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const watch = await watchCommands(t, redis, prefix);
  const limiter = new RateLimiter({ redis, prefix, windowMs: 60_000 });
  for (let i = 0; i < 10; i++) {
    const g = await limiter.tryAcquire('m', 10, { rpm: 1000, tpm: 100_000 });
    if (g.ok) await g.reservation.settle(11 + i);
    await limiter.pause('other', 1, '429');
  }
  const commands = (await watch.take()).map((args) => args[0]!.toLowerCase());
  const texts = commands.filter((c) => c === 'eval').length;
  t.ok(commands.length >= 30, `the calls reached Redis (${commands.length})`);
  t.ok(texts <= 3, `script text sent at most once per script (${texts} eval of ${commands.length})`);
  t.equal(commands.filter((c) => c === 'evalsha').length, commands.length - texts, 'every other call is EVALSHA');
});

t.test('pause stops every caller; 429s lower the rate, successes raise it back', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const limiter = new RateLimiter({ redis, prefix, windowMs: 60_000 });
  await limiter.pause('m', 5000, '429');
  const paused = await limiter.tryAcquire('m', 1, { rpm: 100 });
  t.match(paused, { ok: false, reason: 'paused' });
  t.ok(!paused.ok && paused.retryInMs > 4000 && paused.retryInMs <= 5000);
  await limiter.pause('m', 10, '429');
  t.ok((await redis.pttl(`${prefix}:limiter:m:pause`)) > 4000, 'a shorter pause does not cut a longer one');

  t.equal(await limiter.reportRateLimited('m'), 0.8);
  t.equal(Number((await limiter.reportRateLimited('m')).toFixed(2)), 0.64);
  t.match(await limiter.effective('m', { rpm: 100 }), { rpm: 64, factor: 0.64 });
  let factor = 0;
  for (let i = 0; i < 50; i++) factor = await limiter.reportSuccess('m');
  t.equal(Number(factor.toFixed(3)), 0.704, 'fifty successes in a row speed it up by 10%');
  for (let i = 0; i < 50 * 6; i++) factor = await limiter.reportSuccess('m');
  t.equal(factor, 1, 'never above the configured rate');
});

t.test('a model without limits is never throttled and touches no Redis key', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const limiter = new RateLimiter({ redis, prefix });
  const grants = await Promise.all(Array.from({ length: 100 }, () => limiter.tryAcquire('free', 1000)));
  t.ok(grants.every((g) => g.ok));
  t.same(await redis.keys(`${prefix}:*`), []);
});

t.test('three processes sharing one quota never exceed it together', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const script = `
    import { Redis } from 'ioredis';
    import { RateLimiter } from '${REPO_ROOT}core/limiter/rate-limiter.ts';
    const redis = new Redis(process.env.REDIS_URL);
    const limiter = new RateLimiter({ redis, prefix: process.env.PREFIX, windowMs: 1000 });
    const until = Date.now() + 3000; const grants = [];
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        const g = await limiter.tryAcquire('m', 1, { rpm: 20 });
        if (g.ok) grants.push(g.grantedAt); else await new Promise((r) => setTimeout(r, Math.min(g.retryInMs, 20)));
      }
    }));
    process.stdout.write(JSON.stringify(grants)); redis.disconnect();`;
  const run = () =>
    new Promise<number[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { ...process.env, REDIS_URL: TEST_REDIS_URL, PREFIX: prefix } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => process.stderr.write(d));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`child exited ${code}`))));
    });
  const all = (await Promise.all([run(), run(), run()])).flat().sort((a, b) => a - b);
  t.ok(all.length >= 40, `the quota was used (${all.length} grants in ~3 s at 20 per second)`);
  let worst = 0;
  for (let i = 0, j = 0; i < all.length; i++) {
    while (all[i]! - all[j]! >= 1000) j++;
    worst = Math.max(worst, i - j + 1);
  }
  t.ok(worst <= 20, `no second holds more than 20 grants across the processes (worst ${worst})`);
});

t.test('limits from SDF_LIMITS are checked and named; a run spec may lower them field by field, never raise them', async (t) => {
  t.same(parseLimits('{"gemini-2.5-flash":{"rpm":600,"tpm":1000000}}'), { 'gemini-2.5-flash': { rpm: 600, tpm: 1000000 } });
  t.throws(() => parseLimits('{"m":{"rpm":0}}'), /SDF_LIMITS\.m\.rpm: must be a positive integer/);
  t.throws(() => parseLimits('{"m":{"rps":1}}'), /SDF_LIMITS\.m\.rps: is not a known field/);
  t.throws(() => parseLimits('[1]'), /SDF_LIMITS: must be an object/);
  t.throws(() => parseLimits('{nope'), /SDF_LIMITS: not valid JSON/);
  t.same(limitsFor('m', { m: { rpm: 10, tpm: 100 } }, { m: { rpm: 5 } }), { rpm: 5, tpm: 100 });
  t.same(limitsFor('m', { m: { rpm: 10 } }, { m: { rpm: 50, rpd: 7 } }), { rpm: 10, rpd: 7 }, 'SDF_LIMITS is a ceiling; a field it does not set is the spec\'s');
  t.equal(limitsFor('other', { m: { rpm: 10 } }), undefined);
});
