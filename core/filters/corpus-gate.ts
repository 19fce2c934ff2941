import type { Redis, Result } from 'ioredis';
import type { Rejection } from '../task.js';
import type { ResolvedFilterSpec } from './filter-spec.js';
import { lshBands, minhash, signatureBytes } from './minhash.js';
import { hash32, opening, personalNames, sampledNgrams, words } from './text-features.js';

export const FEATURE_FAMILIES = ['opening', 'name', 'ngram'] as const;
export type FeatureFamily = (typeof FEATURE_FAMILIES)[number];

/** Count-min sketch shape: 4 rows × 65,536 u32 counters per family, 3 MiB per scope whatever the corpus size. */
const DEPTH = 4;
const WIDTH = 65_536;

/**
 * One atomic decision per item, for all workers at once: reject if it is a near-duplicate of an
 * accepted item (LSH candidates verified by MinHash signature), if accepting it would put any
 * of its openings/names/n-grams above the family's ceiling (count-min estimate, which only
 * over-counts: the accepted set can never hold a feature above its ceiling), or if it carries an
 * active audit pattern already at its downsample ceiling. Otherwise record it: sketch counters,
 * accepted count, LSH bands, signature, pattern carriers, and the top-features board. The pattern
 * carriers are counted here, in the same step, so a carrier the gate turns away is never counted.
 *
 * An item recorded as `provisional` (a draft on its way to revise) is remembered with the
 * patterns it was counted under; `release` takes such an item back out (its features, bands,
 * signature, carrier counts and its place in the count) before the decision, once: a revision
 * replaces its draft, so one document is one entry however many times it was rewritten.
 *
 * KEYS: count, sketch, bands, signatures, top, pattern carriers, drafts
 * ARGV: params JSON (see CorpusGate.admit), signature bytes (binary: kept out of the JSON)
 */
const ADMIT = `
local p = cjson.decode(ARGV[1])
local sig = ARGV[2]
local depth = ${DEPTH}
local count = tonumber(redis.call('get', KEYS[1]) or '0')

local function bump(feature, by)
  local args = {'OVERFLOW', 'SAT'}
  for r = 1, depth do
    table.insert(args, 'INCRBY'); table.insert(args, 'u32'); table.insert(args, '#' .. feature[2 + r]); table.insert(args, by)
  end
  local values = redis.call('bitfield', KEYS[2], unpack(args))
  local est = values[1]
  for r = 2, depth do if values[r] < est then est = values[r] end end
  return est
end

local rel = p.release
if rel then
  local carried = redis.call('hget', KEYS[7], rel.id)
  if carried then
    redis.call('hdel', KEYS[7], rel.id)
    for _, feature in ipairs(rel.features) do
      local est = bump(feature, -1)
      local member = feature[1] .. '|' .. feature[2]
      if est < 3 then redis.call('zrem', KEYS[5], member) else redis.call('zadd', KEYS[5], 'XX', est, member) end
    end
    for b, band in ipairs(rel.bands) do
      local key = (b - 1) .. ':' .. band
      if redis.call('hget', KEYS[3], key) == rel.id then redis.call('hdel', KEYS[3], key) end
    end
    redis.call('hdel', KEYS[4], rel.id)
    for _, name in ipairs(cjson.decode(carried)) do
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
if a.threshold <= 1 and sig ~= '' then
  local seen = {}
  local n = #sig / 4
  for b, band in ipairs(a.bands) do
    local other = redis.call('hget', KEYS[3], (b - 1) .. ':' .. band)
    if other and other ~= id and not seen[other] then
      seen[other] = true
      local osig = redis.call('hget', KEYS[4], other)
      if osig then
        local eq = 0
        for k = 0, n - 1 do
          if string.sub(sig, k * 4 + 1, k * 4 + 4) == string.sub(osig, k * 4 + 1, k * 4 + 4) then eq = eq + 1 end
        end
        if eq / n >= a.threshold then return {0, 'dup', other, tostring(eq / n)} end
      end
    end
  end
end
for _, feature in ipairs(a.features) do
  local args = {}
  for r = 1, depth do
    table.insert(args, 'GET'); table.insert(args, 'u32'); table.insert(args, '#' .. feature[2 + r])
  end
  local values = redis.call('bitfield', KEYS[2], unpack(args))
  local est = values[1]
  for r = 2, depth do if values[r] < est then est = values[r] end end
  local share = a.shares[feature[1] + 1]
  if share < 1 then
    local ceiling = math.max(1, math.floor(share * math.max(count + 1, a.warmup)))
    if est + 1 > ceiling then return {0, 'corpus', tostring(feature[1]), feature[2], tostring(est), tostring(ceiling)} end
  end
end
for _, name in ipairs(a.carriers) do
  local carriers = tonumber(redis.call('hget', KEYS[6], name) or '0')
  local ceiling = math.max(1, math.floor(a.prevalence * math.max(count + 1, a.warmup)))
  if carriers + 1 > ceiling then return {0, 'pattern', name, tostring(carriers), tostring(ceiling)} end
end
for _, feature in ipairs(a.features) do
  local est = bump(feature, 1)
  if est >= 3 and est * 100 >= count then
    redis.call('zadd', KEYS[5], est, feature[1] .. '|' .. feature[2])
  end
end
redis.call('zremrangebyrank', KEYS[5], 0, -301)
redis.call('incr', KEYS[1])
if sig ~= '' then
  for b, band in ipairs(a.bands) do redis.call('hsetnx', KEYS[3], (b - 1) .. ':' .. band, id) end
  redis.call('hset', KEYS[4], id, sig)
end
for _, name in ipairs(a.carriers) do redis.call('hincrby', KEYS[6], name, 1) end
if a.provisional then redis.call('hset', KEYS[7], id, a.carriersJson) end
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
  redis.defineCommand('sdfCorpusAdmit', { lua: ADMIT, numberOfKeys: 7 });
}

const FAMILY_REASON: Record<FeatureFamily, string> = { opening: 'corpus-opening', name: 'corpus-name', ngram: 'corpus-ngram' };

export interface CorpusFeature {
  family: FeatureFamily;
  label: string;
}

/** The features of a text the corpus statistics count. */
export function corpusFeatures(text: string, openingWords: number, withNgrams: boolean): CorpusFeature[] {
  const features: CorpusFeature[] = [];
  const first = opening(text, openingWords);
  if (first) features.push({ family: 'opening', label: first });
  for (const name of personalNames(text)) features.push({ family: 'name', label: name });
  if (withNgrams) for (const gram of sampledNgrams(words(text))) features.push({ family: 'ngram', label: gram });
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
  /** Remember the item so a later `release` can take it back out (a draft that revise will replace). */
  provisional?: boolean;
  /** Take this provisional item out first: the text being admitted replaces it. */
  replaces?: ReplacedItem;
}

/** Corpus statistics of one scope (a run's documents, or its chats), shared through Redis. */
export class CorpusGate {
  readonly #keys: { count: string; sketch: string; bands: string; signatures: string; top: string; carriers: string; drafts: string };

  /** `carriersKey`: where accepted carriers of each audit pattern are counted (downsample mode). */
  constructor(
    readonly redis: Redis,
    readonly scope: string,
    readonly spec: ResolvedFilterSpec,
    carriersKey = `${scope}:carriers`,
  ) {
    this.#keys = { count: `${scope}:count`, sketch: `${scope}:sketch`, bands: `${scope}:lsh`, signatures: `${scope}:sig`, top: `${scope}:top`, carriers: carriersKey, drafts: `${scope}:drafts` };
    defineScripts(redis);
  }

  /** What the script needs of a text: its sketch features with their counter indexes, and its LSH bands and signature. */
  #shape(text: string): { features: (string | number)[][]; bands: string[]; signature?: Uint32Array } {
    const { corpus, dedup } = this.spec;
    const features = corpus.enabled ? corpusFeatures(text, corpus.openingWords, corpus.maxShare.ngrams < 1) : [];
    const signature = dedup.enabled ? minhash(text) : undefined;
    return {
      features: features.map((f) => {
        const family = FEATURE_FAMILIES.indexOf(f.family);
        return [family, f.label, ...sketchIndexes(family, f.label)];
      }),
      bands: signature ? lshBands(signature).map(String) : [],
      ...(signature ? { signature } : {}),
    };
  }

  async admit(text: string, id: string, options: AdmitOptions = {}): Promise<Rejection | null> {
    const { corpus, dedup, audit } = this.spec;
    const shape = this.#shape(text);
    const carriers = options.carriers ?? [];
    const admit = {
      id,
      warmup: corpus.warmup,
      shares: corpus.enabled ? [corpus.maxShare.openings, corpus.maxShare.names, corpus.maxShare.ngrams] : [1, 1, 1],
      threshold: dedup.enabled ? dedup.threshold : 2,
      bands: shape.bands,
      features: shape.features,
      carriers,
      // cjson would encode an empty list as {}, so the list is passed pre-encoded for storage.
      carriersJson: JSON.stringify(carriers),
      prevalence: audit.maxPrevalence,
      provisional: options.provisional ?? false,
    };
    const params = { admit, ...(options.replaces ? { release: this.#release(options.replaces) } : {}) };
    const result = await this.#run(params, shape.signature);
    if (result[0] === 1) return null;
    if (result[1] === 'dup') {
      return { reason: 'near-duplicate', rule: 'dedup', detail: `similar to ${result[2]} (${Number(result[3]).toFixed(2)} estimated Jaccard)` };
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
    await this.#run({ release: this.#release(item) });
  }

  #release(item: ReplacedItem) {
    const shape = this.#shape(item.text);
    return { id: item.id, features: shape.features, bands: shape.bands };
  }

  async #run(params: object, signature?: Uint32Array): Promise<(number | string)[]> {
    const k = this.#keys;
    return this.redis.sdfCorpusAdmit(k.count, k.sketch, k.bands, k.signatures, k.top, k.carriers, k.drafts, JSON.stringify(params), signature ? signatureBytes(signature) : '');
  }

  /** Accepted carriers of an audit pattern (downsample mode). */
  async carriers(pattern: string): Promise<number> {
    return Number((await this.redis.hget(this.#keys.carriers, pattern)) ?? 0);
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
