import t from 'tap';
import { BudgetLedger, type BudgetHold, type ReserveRequest } from '../../../core/budget/budget-ledger.js';
import { ConflictError, NotFoundError } from '../../../core/errors.js';
import { runKeys } from '../../../core/keys.js';
import { testRedis } from '../../helpers/redis.js';

/** 2026-03-01 23:59:00 in Los Angeles (PST, UTC-8): a minute before the Pacific day ends. */
const BEFORE_PACIFIC_MIDNIGHT = Date.parse('2026-03-02T07:59:00Z');

function clock(start = BEFORE_PACIFIC_MIDNIGHT) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function request(overrides: Partial<ReserveRequest> = {}): ReserveRequest {
  return { runId: 'run_a', initialCapUsd: undefined, model: 'm', worstUsd: 0.1, dailyCapUsd: undefined, ttlMs: 60_000, note: 'a call', ...overrides };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('concurrent calls never hold more than the cap, and stop only when the next one cannot fit at all', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'running');
  const ledger = new BudgetLedger(redis, prefix);
  const cap = 1;
  let maxWorst = 0;
  let overCap = 0;
  let refused = 0;
  let calls = 0;
  let sampling = true;
  // Another client reads the budget all along: at no instant may spent + reserved pass the cap.
  const sampler = (async () => {
    const connection = redis.duplicate();
    const reader = new BudgetLedger(connection, prefix);
    while (sampling) {
      const b = await reader.read('run_a');
      if (b.spentUsd + b.reservedUsd > cap + 1e-9) overCap++;
      await sleep(1);
    }
    connection.disconnect();
  })();
  // 40 concurrent "workers", each reserving a random worst case and settling to a random share of it.
  await Promise.all(
    Array.from({ length: 40 }, async () => {
      for (;;) {
        const worstUsd = 0.005 + Math.random() * 0.045;
        maxWorst = Math.max(maxWorst, worstUsd);
        const r = await ledger.reserve(request({ initialCapUsd: cap, worstUsd }));
        if (r.kind === 'refused') {
          refused++;
          return;
        }
        if (r.kind === 'wait') {
          await sleep(2);
          continue;
        }
        t.equal(r.kind, 'held');
        if (r.kind !== 'held') return;
        calls++;
        await sleep(Math.random() * 5);
        await ledger.settle(r.hold, worstUsd * Math.random());
      }
    }),
  );
  sampling = false;
  await sampler;
  const end = await ledger.read('run_a');
  t.equal(overCap, 0, 'no sample saw spent + reserved above the cap');
  t.ok(end.spentUsd <= cap, `spent ${end.spentUsd} <= cap ${cap}`);
  t.ok(end.spentUsd > cap - maxWorst, `stopped only when a call could not fit even with nothing in flight (spent ${end.spentUsd}, largest worst case ${maxWorst})`);
  t.equal(end.reservedUsd, 0, 'every hold was settled');
  t.equal(refused, 40, 'every worker was refused in the end');
  t.ok(calls > 40, `many calls were made (${calls}): settles below the worst case gave room back`);
  t.match(end.refused, /a call/, 'the refusal is recorded for the run');
  t.equal((await ledger.reserve(request({ worstUsd: 1e-6 }))).kind, 'refused', 'once refused, even a call that would fit is refused until the cap is raised');
});

t.test('a hold whose worker died expires and gives its amount back; its late settle is not taken twice', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'running');
  const c = clock();
  const ledger = new BudgetLedger(redis, prefix, { now: c.now });
  const first = await ledger.reserve(request({ initialCapUsd: 1, worstUsd: 0.6, ttlMs: 10_000 }));
  t.equal(first.kind, 'held');
  t.equal((await ledger.reserve(request({ worstUsd: 0.6, ttlMs: 10_000 }))).kind, 'wait', 'the first hold is in the way');
  t.equal((await ledger.read('run_a')).reservedUsd, 0.6);
  c.advance(9_999);
  t.equal((await ledger.reserve(request({ worstUsd: 0.6, ttlMs: 10_000 }))).kind, 'wait', 'not before it expires');
  c.advance(2);
  t.equal((await ledger.read('run_a')).reservedUsd, 0, 'status counts no expired hold');
  const second = await ledger.reserve(request({ worstUsd: 0.6, ttlMs: 10_000 }));
  t.equal(second.kind, 'held', 'the expired hold was given back');
  // The first call's worker was only frozen: it settles late. Its spend counts; its hold is not given back again.
  if (first.kind === 'held') await ledger.settle(first.hold, 0.1);
  const b = await ledger.read('run_a');
  t.equal(b.spentUsd, 0.1);
  t.equal(b.reservedUsd, 0.6, 'the second hold is still held in full');
  t.equal(Number(await redis.hget(runKeys(prefix, 'run_a').budget, 'reserved')), 600_000_000, 'the stored sum agrees');
  c.advance(20_000);
  await ledger.reserve(request({ worstUsd: 0.01, ttlMs: 10_000 }));
  t.equal(Number(await redis.zcard(runKeys(prefix, 'run_a').budgetHolds)), 1, 'expired holds leave the set; only the new one is left');
});

t.test('refusal, raise and lower: the cap is the run\'s, a raise clears the refusal and marks the resume', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  const ledger = new BudgetLedger(redis, prefix);
  await t.rejects(ledger.setCap('run_a', 2, undefined), NotFoundError);
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'running');
  await ledger.initCap('run_a', 0.5);
  const held = await ledger.reserve(request({ initialCapUsd: 9, worstUsd: 0.4 }));
  t.equal((await ledger.read('run_a')).usd, 0.5, 'a cap already set is not replaced by the spec\'s');
  if (held.kind === 'held') await ledger.settle(held.hold, 0.3);
  t.equal((await ledger.reserve(request({ worstUsd: 0.25, note: 'a documents call' }))).kind, 'refused', '0.3 + 0.25 > 0.5');
  t.same(await ledger.flags('run_a'), { refused: 'a documents call', resumeAt: undefined });
  t.same(await ledger.setCap('run_a', 0.4, undefined), { previousUsd: 0.5, resumed: false }, 'lowering keeps the refusal');
  t.equal((await ledger.flags('run_a')).refused, 'a documents call');
  const raised = await ledger.setCap('run_a', 1, undefined);
  t.same(raised, { previousUsd: 0.4, resumed: true });
  const flags = await ledger.flags('run_a');
  t.equal(flags.refused, undefined, 'the raise cleared the refusal');
  t.ok(flags.resumeAt && Math.abs(flags.resumeAt - Date.now()) < 5000, 'and marked when, for the run\'s owner');
  t.equal((await ledger.reserve(request({ worstUsd: 0.25 }))).kind, 'held', 'calls are made again');
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'completed');
  await t.rejects(ledger.setCap('run_a', 5, undefined), ConflictError, 'a finished run\'s budget no longer changes');
});

t.test('a capped run refuses a model with no price; an uncapped run counts its spend, so a budget added later starts from it', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'running');
  await redis.hset(runKeys(prefix, 'run_b').meta, 'state', 'running');
  const ledger = new BudgetLedger(redis, prefix);
  t.equal((await ledger.reserve(request({ initialCapUsd: 10, worstUsd: undefined }))).kind, 'refused');
  const free = await ledger.reserve(request({ runId: 'run_b', worstUsd: 0.2 }));
  t.match(free, { kind: 'held', capped: false, hold: { runHeld: false } });
  if (free.kind === 'held') await ledger.settle(free.hold, 0.15);
  t.same(await ledger.read('run_b'), { usd: undefined, spentUsd: 0.15, reservedUsd: 0, refused: undefined, resumeAt: undefined });
  await ledger.setCap('run_b', 0.3, undefined);
  t.equal((await ledger.reserve(request({ runId: 'run_b', worstUsd: 0.2 }))).kind, 'refused', 'what was spent before the budget counts against it');
  // A call whose run was deleted meanwhile does not bring the run's budget back.
  await redis.del(runKeys(prefix, 'run_c').meta);
  const hold: BudgetHold = { id: 'x', nano: 1, runId: 'run_c', runHeld: false, model: 'm', day: undefined };
  await ledger.settle(hold, 0.5);
  t.equal(await redis.exists(runKeys(prefix, 'run_c').budget), 0);
});

t.test('a model\'s daily budget: spent means waiting until the next Pacific midnight, when it starts afresh', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  const c = clock();
  const ledger = new BudgetLedger(redis, prefix, { now: c.now });
  const daily = { runId: undefined, dailyCapUsd: 1, model: 'gemini-x' };
  const first = await ledger.reserve(request({ ...daily, worstUsd: 0.7 }));
  t.match(first, { kind: 'held', hold: { day: '2026-03-01' } });
  t.equal((await ledger.reserve(request({ ...daily, worstUsd: 0.7 }))).kind, 'wait', 'a call in flight holds 0.7 of the day');
  if (first.kind === 'held') await ledger.settle(first.hold, 0.5);
  const second = await ledger.reserve(request({ ...daily, worstUsd: 0.4 }));
  t.equal(second.kind, 'held');
  if (second.kind === 'held') await ledger.settle(second.hold, 0.3);
  t.match(await ledger.readDaily('gemini-x'), { day: '2026-03-01', spentUsd: 0.8, reservedUsd: 0 });
  const spent = await ledger.reserve(request({ ...daily, worstUsd: 0.4 }));
  t.same(spent, { kind: 'daily-spent', day: '2026-03-01', retryInMs: 60_000 }, 'the wait lasts until midnight in Los Angeles');
  const late = await ledger.reserve(request({ ...daily, worstUsd: 0.1 }));
  t.equal(late.kind, 'held', 'a call that still fits is made');
  c.advance(60_000);
  const next = await ledger.reserve(request({ ...daily, worstUsd: 0.9 }));
  t.match(next, { kind: 'held', hold: { day: '2026-03-02' } }, 'a new Pacific day, a new budget');
  // Yesterday's call settles after midnight: it belongs to yesterday, which is over.
  if (late.kind === 'held') await ledger.settle(late.hold, 0.1);
  t.match(await ledger.readDaily('gemini-x'), { day: '2026-03-02', spentUsd: 0, reservedUsd: 0.9 });
  t.same(Object.keys(await redis.hgetall(`${prefix}:budget:daily:gemini-x`)).sort(), ['2026-03-02:reserved', '2026-03-02:spent'], 'only today is kept');
  t.ok((await redis.pttl(`${prefix}:budget:daily:gemini-x`)) > 0, 'and it expires after the day');
});

t.test('a run\'s cap and a daily budget together: a call must fit both, and a wait on either holds nothing', async (t) => {
  const { redis, prefix } = await testRedis(t, 'budget');
  await redis.hset(runKeys(prefix, 'run_a').meta, 'state', 'running');
  const c = clock(Date.parse('2026-06-01T12:00:00Z'));
  const ledger = new BudgetLedger(redis, prefix, { now: c.now });
  const both = { initialCapUsd: 1, dailyCapUsd: 0.5 };
  const a = await ledger.reserve(request({ ...both, worstUsd: 0.4 }));
  t.match(a, { kind: 'held', capped: true, hold: { runHeld: true, day: '2026-06-01' } });
  t.equal((await ledger.reserve(request({ ...both, worstUsd: 0.2 }))).kind, 'wait', 'the daily budget has 0.1 left besides the hold');
  t.equal((await ledger.read('run_a')).reservedUsd, 0.4, 'the refused wait held nothing on the run');
  if (a.kind === 'held') await ledger.settle(a.hold, 0.4);
  t.match(await ledger.reserve(request({ ...both, worstUsd: 0.2 })), { kind: 'daily-spent' });
  t.same(await ledger.read('run_a'), { usd: 1, spentUsd: 0.4, reservedUsd: 0, refused: undefined, resumeAt: undefined }, 'a spent day is no refusal of the run');
});
