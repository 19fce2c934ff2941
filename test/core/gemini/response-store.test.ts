import { randomBytes } from 'node:crypto';
import t from 'tap';
import { responseCacheKeys } from '../../../core/keys.js';
import { ResponseStore, type StoredAnswer } from '../../../core/gemini/response-store.js';
import { testRedis } from '../../helpers/redis.js';

const WORDS = 'the a harbor ledger quietly Aster said uncertain numbers river council minutes forty report evidence'.split(' ');
/** Prose-like text (compresses like prose, not like one repeated string). */
function text(words: number): string {
  return Array.from({ length: words }, () => WORDS[randomBytes(1)[0]! % WORDS.length]).join(' ');
}
const answer = (body: string): StoredAnswer => ({ text: body, finishReason: 'STOP', usage: { promptTokens: 120, outputTokens: 400, thoughtsTokens: 0, costUsd: 0.0011, unpricedCalls: 0 } });
const key = (i: number) => `${String(i).padStart(8, '0')}${'a'.repeat(56)}`;

/** Sum of the charges in the index's scores (score = seconds × 2^21 + charge). */
async function indexCharges(store: ResponseStore, prefix: string): Promise<number> {
  const flat = await store.options.redis.zrange(responseCacheKeys(prefix).index, 0, -1, 'WITHSCORES');
  let sum = 0;
  for (let i = 1; i < flat.length; i += 2) sum += Number(flat[i]) % 2 ** 21;
  return sum;
}

t.test('an answer is stored once and read back as it was', async (t) => {
  const { redis, prefix } = await testRedis(t, 'rstore');
  const store = new ResponseStore({ redis, prefix, ttlS: 60, maxBytes: 1_000_000 });
  const stored = answer(text(300));
  t.equal((await store.put(key(1), stored)).outcome, 'stored');
  t.same(await store.get(key(1)), stored);
  t.equal(await store.get(key(2)), undefined, 'an unknown key is a miss');
  const again = await store.put(key(1), answer('another answer'));
  t.equal(again.outcome, 'present', 'a key already present is left as it is');
  t.same(await store.get(key(1)), stored);
  t.equal(await store.bytes(), await indexCharges(store, prefix), 'the total is the sum of the charges, counted once');
});

t.test('a tiny byte bound evicts the oldest entries; Redis holds no more than the bound says', async (t) => {
  const { redis, prefix } = await testRedis(t, 'rstore');
  const maxBytes = 20_000;
  const store = new ResponseStore({ redis, prefix, ttlS: 600, maxBytes });
  let evicted = 0;
  // Eviction is oldest first to the second (the index orders by the second an entry was stored).
  for (let i = 0; i < 50; i++) evicted += (await store.put(key(i), answer(text(150)))).evicted;
  await new Promise((r) => setTimeout(r, 1100));
  for (let i = 50; i < 100; i++) evicted += (await store.put(key(i), answer(text(150)))).evicted;
  const keys = responseCacheKeys(prefix);
  const members = await redis.zrange(keys.index, 0, -1);
  const bytes = await store.bytes();
  t.ok(bytes <= maxBytes, `charged ${bytes} B <= bound ${maxBytes} B`);
  t.ok(bytes > maxBytes * 0.8, `and the bound is used (${bytes} B)`);
  t.equal(bytes, await indexCharges(store, prefix), 'the total is exactly the charges of the entries indexed');
  t.equal(evicted, 100 - members.length, `${evicted} evicted, ${members.length} kept`);
  t.ok(members.length > 5 && members.length < 50, `a bounded number of entries kept (${members.length})`);
  t.ok(members.every((m) => m >= key(50)), 'every entry of the first second was evicted before any of the next');
  t.equal(await store.get(key(0)), undefined, 'the oldest is gone');
  t.ok(await store.get(key(99)), 'the newest is there');

  const entryKeys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.entries}*`, 'COUNT', 1000);
    cursor = next;
    entryKeys.push(...found);
  } while (cursor !== '0');
  t.equal(entryKeys.length, members.length, 'every evicted entry left Redis');
  let used = Number(await redis.memory('USAGE', keys.index, 'SAMPLES', 0)) + Number(await redis.memory('USAGE', keys.bytes));
  for (const k of entryKeys) used += Number(await redis.memory('USAGE', k));
  t.comment(`Redis MEMORY USAGE of the cache: ${used} B for ${members.length} entries (${Math.round(used / members.length)} B each); charged ${bytes} B`);
  t.ok(used <= bytes, `what Redis reports using (${used} B) is within what was charged (${bytes} B)`);
});

t.test('entries leave with their TTL; their index members and charges go with the next store, and an idle cache leaves Redis', async (t) => {
  const { redis, prefix } = await testRedis(t, 'rstore');
  const store = new ResponseStore({ redis, prefix, ttlS: 3, maxBytes: 1_000_000 });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await store.put(key(1), answer(text(100)));
  await sleep(1500);
  await store.put(key(2), answer(text(100)));
  // The first is past its TTL, the second (and the index, renewed by the second) 1 s short of it.
  await sleep(2000);
  t.equal(await store.get(key(1)), undefined, 'the first entry expired');
  t.ok(await store.get(key(2)), 'the second has not');
  const after = await store.put(key(3), answer(text(100)));
  t.equal(after.outcome, 'stored');
  t.equal(after.expired, 1, `the expired member was popped (${after.expired})`);
  t.equal(after.bytes, await indexCharges(store, prefix), 'and its charge given back');
  t.same(await redis.zrange(responseCacheKeys(prefix).index, 0, -1), [key(2), key(3)]);
  await sleep(3200);
  const [, left] = await redis.scan('0', 'MATCH', `${prefix}:*`, 'COUNT', 1000);
  t.same(left, [], 'a cache with no store for a TTL is gone from Redis, index and total included');
});

t.test('an answer larger than an eighth of the bound is not stored', async (t) => {
  const { redis, prefix } = await testRedis(t, 'rstore');
  const store = new ResponseStore({ redis, prefix, ttlS: 60, maxBytes: 8_000 });
  t.equal((await store.put(key(1), answer(randomBytes(2000).toString('hex')))).outcome, 'too-large');
  t.equal(await store.get(key(1)), undefined);
  t.equal(await store.bytes(), 0);
  t.throws(() => new ResponseStore({ redis, prefix, ttlS: 0, maxBytes: 1 }), /ttlS must be an integer >= 1/);
});
