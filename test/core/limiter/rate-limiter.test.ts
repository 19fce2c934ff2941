import { spawn } from 'node:child_process';
import t from 'tap';
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

t.test('RPD: the daily quota stops the model until the next UTC day', async (t) => {
  const { redis, prefix } = await testRedis(t, 'lim');
  const c = clock(Date.parse('2026-03-01T23:59:00Z'));
  const limiter = new RateLimiter({ redis, prefix, now: c.now, windowMs: 1000 });
  const limits = { rpd: 3 };
  for (let i = 0; i < 3; i++) t.ok((await limiter.tryAcquire('m', 1, limits)).ok);
  t.match(await limiter.tryAcquire('m', 1, limits), { ok: false, reason: 'rpd', retryInMs: 60_000 });
  c.advance(60_000);
  t.ok((await limiter.tryAcquire('m', 1, limits)).ok, 'a new day, a new quota');
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

t.test('limits from SDF_LIMITS are checked and named; a run spec wins field by field', async (t) => {
  t.same(parseLimits('{"gemini-2.5-flash":{"rpm":600,"tpm":1000000}}'), { 'gemini-2.5-flash': { rpm: 600, tpm: 1000000 } });
  t.throws(() => parseLimits('{"m":{"rpm":0}}'), /SDF_LIMITS\.m\.rpm: must be a positive integer/);
  t.throws(() => parseLimits('{"m":{"rps":1}}'), /SDF_LIMITS\.m\.rps: is not a known field/);
  t.throws(() => parseLimits('[1]'), /SDF_LIMITS: must be an object/);
  t.throws(() => parseLimits('{nope'), /SDF_LIMITS: not valid JSON/);
  t.same(limitsFor('m', { m: { rpm: 10, tpm: 100 } }, { m: { rpm: 5 } }), { rpm: 5, tpm: 100 });
  t.equal(limitsFor('other', { m: { rpm: 10 } }), undefined);
});
