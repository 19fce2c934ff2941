import type { Redis, Result } from 'ioredis';
import type { Rejection } from '../task.js';
import type { ResolvedFilterSpec } from './filter-spec.js';
import { bandHashes, minhash, packedSignature } from './minhash.js';
import { peopleIn, personKeys, resolvePeople, SurnameDirectory } from './person-names.js';
import { hash32, opening, sampledNgrams, tokenize } from './text-features.js';

export const FEATURE_FAMILIES = ['opening', 'name', 'ngram'] as const;
export type FeatureFamily = (typeof FEATURE_FAMILIES)[number];

/** Count-min sketch shape: 4 rows × 65,536 u32 counters per family, 3 MiB per scope whatever the corpus size. */
const DEPTH = 4;
const WIDTH = 65_536;

/**
 * Near-duplicate index, bounded per accepted item (issue 9: at most 150 bytes of Redis an item;
 * measured 125 by test/core/filters/near-dup-memory.test.ts, where the old hashes took 1,400).
 *
 * - Every indexed item gets a dense number n (`n` of the `${scope}:ix` hash, never reused).
 * - Records: n's 38 bytes at n × 38 in chunk strings `${scope}:ix:r:<n / 1724>`: the 4-bit MinHash
 *   signature (32 bytes, see `packedSignature`) and the item's id as a 2-byte prefix code and a
 *   4-byte number (ids are `<stage>-<index>`; the prefixes live in `${scope}:ix:p`, ids of any
 *   other shape whole in `${scope}:ix:o`). A chunk is created at its full 65,512 bytes by one
 *   SETRANGE, which allocates exactly (one string grown by appends would double its allocation).
 *   A released draft's record becomes a tombstone (code 65535).
 * - Band table: each of an item's 12 bands (a 32-bit hash H) is a 6-byte entry [bits 6..29 of H][n]
 *   in a bucket string `${scope}:ix:b:<addr>`, found by a plain string search for its 3 hash bytes.
 *   Buckets are addressed by linear hashing (level L, split pointer s in `${scope}:ix`): when the
 *   entries average more than 256 a bucket, bucket s is split in two by bit L of H, which the
 *   entry still holds, so the table grows a bucket at a time and a lookup is always one GET.
 *   A bucket's string is sized to an allocator size class and zero-filled past its entries, so
 *   an entry is written in place (SETRANGE) and the string is rewritten only when full.
 *   Per item: 38 bytes of record, 12 × 6 bytes of entries, ~15% of free space and key overhead.
 *
 * False negatives: a pair of Jaccard J shares a band (4 slots) with probability
 * 1 - (1 - J^4)^12: 0.998 at J = 0.8, 0.9999 at 0.85 (16 bands, 0.9998 at 0.8, would not fit in 150
 * bytes). A band entry is kept for the first item with that band only, and a bucket keeps one
 * entry per 3 hash bytes, of which 24 - (L - 6) distinguish entries in one bucket: at 1M items
 * ~1% of an item's band entries are not stored, which loses a pair only if its other bands miss
 * too. Candidates are verified on the 4-bit signatures with the chance agreement (1/16 a slot)
 * taken out, so near the threshold the decision is about as noisy as 64-slot MinHash always was.
 * Beyond 2^24 items a scope indexes no more.
 */
const RECORD = 38;
const CHUNK_ITEMS = 1724;
const BASE_LEVEL = 6;
const BUCKET_LOAD = 256;
const MAX_ITEMS = 2 ** 24 - 1;
const TOMBSTONE = 65_535;

/**
 * One atomic decision per item, for all workers at once: reject if it is a near-duplicate of an
 * accepted item (band candidates verified on their signatures), if accepting it would put any
 * of its openings/names/n-grams above the family's ceiling (count-min estimate, which only
 * over-counts: the accepted set can never hold a feature above its ceiling), or if it carries an
 * active audit pattern already at its downsample ceiling, or a named chat pattern (chat-patterns.ts)
 * already at its share of the accepted set. Otherwise record it: sketch counters,
 * accepted count, its index record and bands, pattern carriers, and the top-features board. The
 * pattern carriers are counted here, in the same step, so a carrier the gate turns away is never counted.
 *
 * An item recorded as `provisional` (a draft on its way to revise) is remembered with its index
 * number and the patterns it was counted under; `release` takes such an item back out (its
 * features, bands, carrier counts and its place in the count; its record becomes a tombstone)
 * before the decision, once: a revision replaces its draft, so one document is one entry however
 * many times it was rewritten.
 *
 * The bucket and record keys are named in the script from KEYS[3] (their number grows with the
 * corpus): a single Redis, as everywhere in the farm.
 *
 * KEYS: count, sketch, index (hash: n, L, s, e), id prefixes, top, pattern carriers, drafts, other ids
 * ARGV: params JSON (see CorpusGate.admit), packed signature (binary: kept out of the JSON)
 */
const ADMIT = `
local p = cjson.decode(ARGV[1])
local sig = ARGV[2]
local depth = ${DEPTH}
local count = tonumber(redis.call('get', KEYS[1]) or '0')
local IX = KEYS[3]
local RECORD, CHUNK_ITEMS, BASE, LOAD, TOMB = ${RECORD}, ${CHUNK_ITEMS}, ${BASE_LEVEL}, ${BUCKET_LOAD}, ${TOMBSTONE}

-- Changes every feature's counters by \`by\` in one BITFIELD call and returns each feature's
-- count-min estimate after it (a feature is \`depth\` counters; its estimate is their minimum).
local function sketch(features, by)
  if #features == 0 then return {} end
  local args = {'OVERFLOW', 'SAT'}
  for _, feature in ipairs(features) do
    for r = 1, depth do
      local n = #args
      args[n + 1] = 'INCRBY'; args[n + 2] = 'u32'; args[n + 3] = '#' .. feature[2 + r]; args[n + 4] = by
    end
  end
  local values = redis.call('bitfield', KEYS[2], unpack(args))
  local out = {}
  for f = 1, #features do
    local est = values[(f - 1) * depth + 1]
    for r = 2, depth do
      local v = values[(f - 1) * depth + r]
      if v < est then est = v end
    end
    out[f] = est
  end
  return out
end

-- The index's state: next item number, level, split pointer, entries.
local st = redis.call('hmget', IX, 'n', 'L', 's', 'e')
local nextItem = tonumber(st[1]) or 0
local level = tonumber(st[2]) or BASE
local split = tonumber(st[3]) or 0
local entries = tonumber(st[4]) or 0
local function save() redis.call('hset', IX, 'n', nextItem, 'L', level, 's', split, 'e', entries) end

local function u24(x) return string.char(math.floor(x / 65536) % 256, math.floor(x / 256) % 256, x % 256) end
local function r24(s, i) local a, b, c = string.byte(s, i, i + 2); return a * 65536 + b * 256 + c end
-- A band hash as stored: its bits BASE..BASE+23 are the entry's hash bytes, never all zero (zeros
-- mark a bucket's free space), and the bucket address is taken from the same value, so splits,
-- which only see the stored bytes, agree with lookups.
local function norm(h)
  local f = math.floor(h / 2 ^ BASE) % 16777216
  if f == 0 then f = 1 end
  return f * 2 ^ BASE + h % 2 ^ BASE, u24(f)
end
local function addr(h)
  local a = h % 2 ^ level
  if a < split then a = h % 2 ^ (level + 1) end
  return a
end

local buckets = {}
-- The buckets of these band hashes, read in one MGET (an item's 12 bands are 12 buckets).
local function prefetch(bands)
  local addrs, names, wanted = {}, {}, {}
  for _, band in ipairs(bands) do
    local a = addr((norm(band)))
    if buckets[a] == nil and not wanted[a] then
      wanted[a] = true
      addrs[#addrs + 1] = a
      names[#names + 1] = IX .. ':b:' .. a
    end
  end
  if #names == 0 then return end
  local values = redis.call('mget', unpack(names))
  for i, a in ipairs(addrs) do buckets[a] = values[i] or '' end
end
local function bucket(a)
  local data = buckets[a]
  if data == nil then
    data = redis.call('get', IX .. ':b:' .. a) or ''
    buckets[a] = data
  end
  return data
end
-- A bucket is its entries, then zeros up to a size that fills one allocator size class (4 a
-- doubling) exactly: an entry is written in place with SETRANGE, which neither reallocates nor
-- builds a Lua string, and a bucket is rewritten only when it is full (into the next class).
local ZERO6 = string.rep('\0', 6)
local function capacity(n)
  local size = 64
  while true do
    for _, class in ipairs({size, size * 1.25, size * 1.5, size * 1.75}) do
      -- sds header and terminator: 4 bytes below 256 bytes, 6 up to 64 KiB.
      local bytes = math.floor((class - (class <= 256 and 4 or 6)) / 6) * 6
      if bytes >= n * 6 then return bytes end
    end
    size = size * 2
  end
end
local function used(data)
  local pos = string.find(data, ZERO6, 1, true)
  while pos and (pos - 1) % 6 ~= 0 do pos = string.find(data, ZERO6, pos + 1, true) end
  if pos then return pos - 1 end
  return #data
end
local function writeBucket(a, entries)
  if entries == '' then
    redis.call('del', IX .. ':b:' .. a)
    buckets[a] = ''
  else
    local data = entries .. string.rep('\0', capacity(#entries / 6) - #entries)
    redis.call('set', IX .. ':b:' .. a, data)
    buckets[a] = data
  end
end
local function insert(a, entry)
  local data = bucket(a)
  local n = used(data)
  if n + 6 <= #data then
    redis.call('setrange', IX .. ':b:' .. a, n, entry)
    buckets[a] = nil
  else
    writeBucket(a, string.sub(data, 1, n) .. entry)
  end
end
-- The bucket's last entry moves into the removed one's place.
local function remove(a, data, pos)
  local n = used(data)
  if n == 6 then redis.call('del', IX .. ':b:' .. a)
  else
    if pos ~= n - 5 then redis.call('setrange', IX .. ':b:' .. a, pos - 1, string.sub(data, n - 5, n)) end
    redis.call('setrange', IX .. ':b:' .. a, n - 6, ZERO6)
  end
  buckets[a] = nil
end
-- The 1-based position of the entry with these hash bytes (entries are 6-byte aligned), or nil.
local function find(data, fp)
  local pos = string.find(data, fp, 1, true)
  while pos and (pos - 1) % 6 ~= 0 do pos = string.find(data, fp, pos + 1, true) end
  return pos
end

local function recordKey(n) return IX .. ':r:' .. math.floor(n / CHUNK_ITEMS) end
local function recordOffset(n) return (n % CHUNK_ITEMS) * RECORD end
local function code(rec) return string.byte(rec, 33) * 256 + string.byte(rec, 34) end

-- Ids as <prefix><decimal number>: a 2-byte code for the prefix and a 4-byte number; code 0 when
-- the id has another shape (then it is kept whole in KEYS[8]).
local function idParts(id)
  local prefix, digits = string.match(id, '^(.-)(%d+)$')
  if prefix and #digits <= 9 and (digits == '0' or string.sub(digits, 1, 1) ~= '0') then return prefix, tonumber(digits) end
  return nil, nil
end
local function encodeId(id, n, create)
  local prefix, num = idParts(id)
  local c = nil
  if prefix then
    local known = redis.call('hget', KEYS[4], '<' .. prefix)
    if known then c = tonumber(known) end
    if not c and create then
      c = redis.call('hincrby', KEYS[4], '#', 1)
      if c >= TOMB then c = nil else redis.call('hset', KEYS[4], '<' .. prefix, c, '>' .. c, prefix) end
    end
  end
  if not c then
    if create then redis.call('hset', KEYS[8], n, id) end
    return string.rep('\\0', 6)
  end
  return string.char(math.floor(c / 256), c % 256, math.floor(num / 16777216) % 256) .. u24(num % 16777216)
end
local function decodeId(n, rec)
  local c = code(rec)
  if c == 0 then return redis.call('hget', KEYS[8], n) or ('#' .. n) end
  local num = string.byte(rec, 35) * 16777216 + r24(rec, 36)
  return (redis.call('hget', KEYS[4], '>' .. c) or '?') .. string.format('%d', num)
end

-- Estimated Jaccard of the item's packed signature and a record's (4-bit slots, chance agreement 1/16 taken out).
local function similarity(rec)
  local eq = 0
  for i = 1, 32 do
    local x, y = string.byte(sig, i), string.byte(rec, i)
    if x == y then eq = eq + 2
    else
      if x % 16 == y % 16 then eq = eq + 1 end
      if math.floor(x / 16) == math.floor(y / 16) then eq = eq + 1 end
    end
  end
  local j = (eq / 64 - 1 / 16) / (1 - 1 / 16)
  if j < 0 then j = 0 end
  return j
end

-- Linear hashing: bucket s splits into s and s + 2^L by bit L of each entry's band hash.
local function splitNext()
  local size = 2 ^ level
  local data = bucket(split)
  local keep, move = {}, {}
  local bit = 2 ^ (level - BASE)
  for pos = 1, used(data), 6 do
    local entry = string.sub(data, pos, pos + 5)
    if math.floor(r24(data, pos) / bit) % 2 == 1 then move[#move + 1] = entry else keep[#keep + 1] = entry end
  end
  writeBucket(split, table.concat(keep))
  writeBucket(split + size, table.concat(move))
  split = split + 1
  if split == size then level = level + 1; split = 0 end
end

local rel = p.release
if rel then
  local carried = redis.call('hget', KEYS[7], rel.id)
  if carried then
    redis.call('hdel', KEYS[7], rel.id)
    local num, json = string.match(carried, '^(%d*)|(.*)$')
    if not num then json = carried end
    local ests = sketch(rel.features, -1)
    for f, feature in ipairs(rel.features) do
      local est = ests[f]
      local member = feature[1] .. '|' .. feature[2]
      if est < 3 then redis.call('zrem', KEYS[5], member) else redis.call('zadd', KEYS[5], 'XX', est, member) end
    end
    if num and num ~= '' then
      local m = tonumber(num)
      local mine = u24(m)
      for _, band in ipairs(rel.bands) do
        local h, fp = norm(band)
        local a = addr(h)
        local data = bucket(a)
        local pos = find(data, fp)
        if pos and string.sub(data, pos + 3, pos + 5) == mine then
          remove(a, data, pos)
          entries = entries - 1
        end
      end
      -- A tombstone: the number is never verified against again.
      redis.call('setrange', recordKey(m), recordOffset(m), string.rep('\\0', 32) .. string.char(255, 255) .. string.rep('\\0', 4))
      save()
    end
    for _, name in ipairs(cjson.decode(json)) do
      if tonumber(redis.call('hincrby', KEYS[6], name, -1)) <= 0 then redis.call('hdel', KEYS[6], name) end
    end
    if count > 0 then
      count = count - 1
      redis.call('decr', KEYS[1])
    end
  end
end

local a = p.admit
if not a then return {1} end
local id = a.id
local indexing = a.threshold <= 1 and sig ~= ''
local found = {}
if indexing then
  prefetch(a.bands)
  local seen = {}
  local myId = nil
  for b, band in ipairs(a.bands) do
    local h, fp = norm(band)
    local data = bucket(addr(h))
    local pos = find(data, fp)
    if pos then
      found[b] = true
      local m = r24(data, pos + 3)
      if not seen[m] then
        seen[m] = true
        local rec = redis.call('getrange', recordKey(m), recordOffset(m), recordOffset(m) + RECORD - 1)
        if #rec == RECORD and code(rec) ~= TOMB then
          local j = similarity(rec)
          if j >= a.threshold then
            -- An item is not a duplicate of itself (a retried task).
            local same
            if code(rec) == 0 then same = redis.call('hget', KEYS[8], m) == id
            else
              myId = myId or encodeId(id, nil, false)
              same = string.sub(rec, 33, 38) == myId
            end
            if not same then return {0, 'dup', decodeId(m, rec), tostring(j)} end
          end
        end
      end
    end
  end
end
-- Counted first and taken back out if the item is turned away (a few percent of items): one
-- BITFIELD per accepted item instead of a read and then an increment.
local bumped = sketch(a.features, 1)
for f, feature in ipairs(a.features) do
  local share = a.shares[feature[1] + 1]
  if share < 1 then
    local ceiling = math.max(1, math.floor(share * math.max(count + 1, a.warmup)))
    if bumped[f] > ceiling then
      sketch(a.features, -1)
      -- A feature at its ceiling is frequent by definition, even in the warm-up (where the ceiling
      -- may be 1): on the board, so gates can join surname-only mentions to this full name.
      redis.call('zadd', KEYS[5], bumped[f] - 1, feature[1] .. '|' .. feature[2])
      return {0, 'corpus', tostring(feature[1]), feature[2], tostring(bumped[f] - 1), tostring(ceiling)}
    end
  end
end
for _, name in ipairs(a.carriers) do
  local carriers = tonumber(redis.call('hget', KEYS[6], name) or '0')
  local ceiling = math.max(1, math.floor(a.prevalence * math.max(count + 1, a.warmup)))
  if carriers + 1 > ceiling then
    sketch(a.features, -1)
    return {0, 'pattern', name, tostring(carriers), tostring(ceiling)}
  end
end
-- Named chat patterns: exact counts beside the audit patterns' (fields 'named:<name>'), each under its own share.
for _, named in ipairs(a.named) do
  if named.share < 1 then
    local carriers = tonumber(redis.call('hget', KEYS[6], 'named:' .. named.name) or '0')
    local ceiling = math.max(1, math.floor(named.share * math.max(count + 1, a.warmup)))
    if carriers + 1 > ceiling then
      sketch(a.features, -1)
      return {0, 'named', named.name, tostring(carriers), tostring(ceiling)}
    end
  end
end
for f, feature in ipairs(a.features) do
  local est = bumped[f]
  if est >= 3 and est * 100 >= count then
    redis.call('zadd', KEYS[5], est, feature[1] .. '|' .. feature[2])
  end
end
redis.call('zremrangebyrank', KEYS[5], 0, -301)
redis.call('incr', KEYS[1])
local number = ''
if indexing and nextItem < ${MAX_ITEMS} then
  local n = nextItem
  nextItem = n + 1
  number = n
  local key, offset = recordKey(n), recordOffset(n)
  -- A new chunk is allocated whole, once, at exactly its size.
  if offset == 0 then redis.call('setrange', key, CHUNK_ITEMS * RECORD - 1, '\\0') end
  redis.call('setrange', key, offset, sig .. encodeId(id, n, true))
  local mine = u24(n)
  for b, band in ipairs(a.bands) do
    if not found[b] then
      local h, fp = norm(band)
      local at = addr(h)
      -- Two bands of one item may land in one bucket: the first entry with these hash bytes stays.
      if not find(bucket(at), fp) then
        insert(at, fp .. mine)
        entries = entries + 1
      end
    end
  end
  local splits = 0
  while entries > LOAD * (2 ^ level + split) and splits < 4 and level - BASE < 23 do
    splitNext()
    splits = splits + 1
  end
  save()
end
for _, name in ipairs(a.carriers) do redis.call('hincrby', KEYS[6], name, 1) end
for _, named in ipairs(a.named) do redis.call('hincrby', KEYS[6], 'named:' .. named.name, 1) end
if a.provisional then redis.call('hset', KEYS[7], id, number .. '|' .. a.carriersJson) end
return {1}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sdfCorpusAdmit(...args: (string | number | Buffer)[]): Result<(number | string)[], Context>;
  }
}

/** Registers the script on a connection once; ioredis then calls it by SHA. */
function defineScripts(redis: Redis): void {
  if (typeof (redis as Partial<Redis>).sdfCorpusAdmit === 'function') return;
  redis.defineCommand('sdfCorpusAdmit', { lua: ADMIT, numberOfKeys: 8 });
}

const FAMILY_REASON: Record<FeatureFamily, string> = { opening: 'corpus-opening', name: 'corpus-name', ngram: 'corpus-ngram' };

export interface CorpusFeature {
  family: FeatureFamily;
  label: string;
}

/**
 * The features of a text the corpus statistics count. Names are people, one key each however
 * they are written (see person-names.ts): `people` are those keys when the caller has them
 * (with surname-only mentions joined to the corpus's full names), else the text's own.
 */
export function corpusFeatures(text: string, openingWords: number, withNgrams: boolean, people?: string[]): CorpusFeature[] {
  const features: CorpusFeature[] = [];
  const first = opening(text, openingWords);
  if (first) features.push({ family: 'opening', label: first });
  for (const name of people ?? personKeys(text)) features.push({ family: 'name', label: name });
  if (withNgrams) for (const gram of sampledNgrams(tokenize(text))) features.push({ family: 'ngram', label: gram });
  return features;
}

function sketchIndexes(family: number, label: string): number[] {
  const h1 = hash32(label);
  const h2 = hash32(label, 0x01000193) | 1;
  return Array.from({ length: DEPTH }, (_, r) => family * DEPTH * WIDTH + r * WIDTH + (((h1 + Math.imul(r, h2)) >>> 0) % WIDTH));
}

export interface TopFeature {
  family: FeatureFamily;
  label: string;
  count: number;
  share: number;
}

/** An item a revision replaces: the draft admitted as `provisional` under `id`, and its text. */
export interface ReplacedItem {
  id: string;
  text: string;
}

export interface AdmitOptions {
  /** Active audit patterns the item carries (downsample mode): each must stay under `maxPrevalence`. */
  carriers?: string[];
  /** Named chat patterns the item carries (chat-patterns.ts), each counted exactly and kept under its `share`. */
  named?: { name: string; share: number }[];
  /** Remember the item so a later `release` can take it back out (a draft that revise will replace). */
  provisional?: boolean;
  /** Take this provisional item out first: the text being admitted replaces it. */
  replaces?: ReplacedItem;
}

/** How often a gate re-reads the corpus's frequent names for joining surname-only mentions. */
const PEOPLE_REFRESH_MS = 1000;
/** How soon it re-reads them when a text has a titled surname it cannot join yet. */
const PEOPLE_MISS_REFRESH_MS = 20;

/** Corpus statistics of one scope (a run's documents, or its chats), shared through Redis. */
export class CorpusGate {
  #directory = new SurnameDirectory();
  #peopleLoadedAt = 0;
  readonly #keys: { count: string; sketch: string; index: string; idPrefixes: string; top: string; carriers: string; drafts: string; otherIds: string };

  /** `carriersKey`: where accepted carriers of each audit pattern are counted (downsample mode). */
  constructor(
    readonly redis: Redis,
    readonly scope: string,
    readonly spec: ResolvedFilterSpec,
    carriersKey = `${scope}:carriers`,
  ) {
    this.#keys = { count: `${scope}:count`, sketch: `${scope}:sketch`, index: `${scope}:ix`, idPrefixes: `${scope}:ix:p`, top: `${scope}:top`, carriers: carriersKey, drafts: `${scope}:drafts`, otherIds: `${scope}:ix:o` };
    defineScripts(redis);
  }

  /**
   * A surname-only mention with no full name in its document ("Ms Halvorsen-Mbeki") is joined to
   * the one full name with that surname among the corpus's frequent features (the top board:
   * names in 1% of accepted items or more, at least 3, and any name turned away at its ceiling), read
   * once a second, or after 20 ms when a text has a surname it cannot join yet (rare: most
   * surname mentions follow their full name). Until its full name is frequent, such a mention
   * counts as the surname (and a draft released after that moment takes its mention off the
   * full name, not the surname: one count on one name, not a drift).
   */
  async #people(text: string): Promise<string[]> {
    const people = peopleIn(text);
    const age = Date.now() - this.#peopleLoadedAt;
    if (age >= PEOPLE_REFRESH_MS || (age >= PEOPLE_MISS_REFRESH_MS && people.surnamesOnly.some((s) => this.#directory.resolve(s) === undefined))) {
      await this.#refreshPeople();
    }
    return resolvePeople(people, this.#directory.resolve);
  }

  async #refreshPeople(): Promise<void> {
    this.#peopleLoadedAt = Date.now();
    const members = await this.redis.zrange(this.#keys.top, 0, -1);
    const directory = new SurnameDirectory();
    const prefix = `${FEATURE_FAMILIES.indexOf('name')}|`;
    for (const member of members) if (member.startsWith(prefix)) directory.add(member.slice(prefix.length));
    this.#directory = directory;
  }

  /** What the script needs of a text: its sketch features with their counter indexes, and its band hashes and packed signature. */
  async #shape(text: string): Promise<{ features: (string | number)[][]; bands: number[]; signature?: Buffer }> {
    const { corpus, dedup } = this.spec;
    const features = corpus.enabled ? corpusFeatures(text, corpus.openingWords, corpus.maxShare.ngrams < 1, await this.#people(text)) : [];
    const signature = dedup.enabled ? minhash(text) : undefined;
    return {
      features: features.map((f) => {
        const family = FEATURE_FAMILIES.indexOf(f.family);
        return [family, f.label, ...sketchIndexes(family, f.label)];
      }),
      bands: signature ? bandHashes(signature) : [],
      ...(signature ? { signature: packedSignature(signature) } : {}),
    };
  }

  async admit(text: string, id: string, options: AdmitOptions = {}): Promise<Rejection | null> {
    const { corpus, dedup, audit } = this.spec;
    const shape = await this.#shape(text);
    const carriers = options.carriers ?? [];
    const named = options.named ?? [];
    const admit = {
      id,
      warmup: corpus.warmup,
      shares: corpus.enabled ? [corpus.maxShare.openings, corpus.maxShare.names, corpus.maxShare.ngrams] : [1, 1, 1],
      threshold: dedup.enabled ? dedup.threshold : 2,
      bands: shape.bands,
      features: shape.features,
      carriers,
      named: named.map((n) => ({ name: n.name, share: n.share })),
      // cjson would encode an empty list as {}, so the list is passed pre-encoded for storage (a
      // release takes the named patterns' counts back out with the audit patterns').
      carriersJson: JSON.stringify([...carriers, ...named.map((n) => `named:${n.name}`)]),
      prevalence: audit.maxPrevalence,
      provisional: options.provisional ?? false,
    };
    const params = { admit, ...(options.replaces ? { release: await this.#release(options.replaces) } : {}) };
    const result = await this.#run(params, shape.signature);
    if (result[0] === 1) return null;
    if (result[1] === 'dup') {
      return { reason: 'near-duplicate', rule: 'dedup', detail: `similar to ${result[2]} (${Number(result[3]).toFixed(2)} estimated Jaccard)` };
    }
    if (result[1] === 'named') {
      return { reason: String(result[2]), rule: `corpus:${result[2]}`, detail: `already in ${result[3]} accepted items; ceiling ${result[4]}` };
    }
    if (result[1] === 'pattern') {
      return { reason: 'audit-pattern', rule: `audit:${result[2]}`, detail: `downsampled: ${result[3]} carriers already, ceiling ${result[4]}` };
    }
    const family = FEATURE_FAMILIES[Number(result[2])]!;
    return { reason: FAMILY_REASON[family], rule: `corpus:${family}`, span: String(result[3]), detail: `already in ${result[4]} accepted items; ceiling ${result[5]}` };
  }

  /**
   * Takes a provisional item back out without admitting anything (its revision was rejected
   * before it reached the gate). Idempotent: an item is released at most once.
   */
  async release(item: ReplacedItem): Promise<void> {
    await this.#run({ release: await this.#release(item) });
  }

  async #release(item: ReplacedItem) {
    const shape = await this.#shape(item.text);
    return { id: item.id, features: shape.features, bands: shape.bands };
  }

  async #run(params: object, signature?: Buffer): Promise<(number | string)[]> {
    const k = this.#keys;
    return this.redis.sdfCorpusAdmit(k.count, k.sketch, k.index, k.idPrefixes, k.top, k.carriers, k.drafts, k.otherIds, JSON.stringify(params), signature ?? '');
  }

  /** Accepted carriers of an audit pattern (downsample mode). */
  async carriers(pattern: string): Promise<number> {
    return Number((await this.redis.hget(this.#keys.carriers, pattern)) ?? 0);
  }

  /** Accepted items carrying each named chat pattern (chat-patterns.ts), counted exactly. */
  async namedCounts(): Promise<Record<string, number>> {
    const all = await this.redis.hgetall(this.#keys.carriers);
    const out: Record<string, number> = {};
    for (const [field, n] of Object.entries(all)) if (field.startsWith('named:')) out[field.slice('named:'.length)] = Number(n);
    return out;
  }

  async accepted(): Promise<number> {
    return Number((await this.redis.get(this.#keys.count)) ?? 0);
  }

  /** The most frequent features seen, with their share of accepted items (count-min estimates). */
  async top(limit = 50): Promise<TopFeature[]> {
    const [count, entries] = await Promise.all([this.accepted(), this.redis.zrevrange(this.#keys.top, 0, limit - 1, 'WITHSCORES')]);
    const out: TopFeature[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      const [family, ...label] = entries[i]!.split('|');
      const n = Number(entries[i + 1]);
      out.push({ family: FEATURE_FAMILIES[Number(family)]!, label: label.join('|'), count: n, share: count ? n / count : 0 });
    }
    return out;
  }
}
