import type { Redis } from 'ioredis';
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
 * accepted item (LSH candidates verified by MinHash signature) or if accepting it would put any
 * of its openings/names/n-grams above the family's ceiling (count-min estimate, which only
 * over-counts: the accepted set can never hold a feature above its ceiling). Otherwise record
 * it: sketch counters, accepted count, LSH bands, signature, and the top-features board.
 *
 * KEYS: count, sketch, bands, signatures, top
 * ARGV: warmup, share×3, threshold, id, signature, nbands, bands…, nfeatures, then per feature: family, label, d indexes
 */
const ADMIT = `
local count = tonumber(redis.call('get', KEYS[1]) or '0')
local warm = tonumber(ARGV[1])
local shares = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
local threshold = tonumber(ARGV[5])
local id = ARGV[6]
local sig = ARGV[7]
local nb = tonumber(ARGV[8])
local depth = ${DEPTH}
if threshold <= 1 and sig ~= '' then
  local seen = {}
  local n = #sig / 4
  for b = 1, nb do
    local other = redis.call('hget', KEYS[3], (b - 1) .. ':' .. ARGV[8 + b])
    if other and other ~= id and not seen[other] then
      seen[other] = true
      local osig = redis.call('hget', KEYS[4], other)
      if osig then
        local eq = 0
        for k = 0, n - 1 do
          if string.sub(sig, k * 4 + 1, k * 4 + 4) == string.sub(osig, k * 4 + 1, k * 4 + 4) then eq = eq + 1 end
        end
        if eq / n >= threshold then return {0, 'dup', other, tostring(eq / n)} end
      end
    end
  end
end
local i = 9 + nb
local nf = tonumber(ARGV[i])
local first = i + 1
local stride = 2 + depth
local estimates = {}
for f = 0, nf - 1 do
  local at = first + f * stride
  local fam = tonumber(ARGV[at])
  local args = {}
  for r = 0, depth - 1 do
    table.insert(args, 'GET'); table.insert(args, 'u32'); table.insert(args, '#' .. ARGV[at + 2 + r])
  end
  local values = redis.call('bitfield', KEYS[2], unpack(args))
  local est = values[1]
  for r = 2, depth do if values[r] < est then est = values[r] end end
  estimates[f] = est
  local share = shares[fam + 1]
  if share < 1 then
    local ceiling = math.max(1, math.floor(share * math.max(count + 1, warm)))
    if est + 1 > ceiling then return {0, 'corpus', tostring(fam), ARGV[at + 1], tostring(est), tostring(ceiling)} end
  end
end
for f = 0, nf - 1 do
  local at = first + f * stride
  local args = {'OVERFLOW', 'SAT'}
  for r = 0, depth - 1 do
    table.insert(args, 'INCRBY'); table.insert(args, 'u32'); table.insert(args, '#' .. ARGV[at + 2 + r]); table.insert(args, 1)
  end
  redis.call('bitfield', KEYS[2], unpack(args))
  local est = estimates[f] + 1
  if est >= 3 and est * 100 >= count then
    redis.call('zadd', KEYS[5], est, ARGV[at] .. '|' .. ARGV[at + 1])
  end
end
redis.call('zremrangebyrank', KEYS[5], 0, -301)
redis.call('incr', KEYS[1])
if sig ~= '' then
  for b = 1, nb do redis.call('hsetnx', KEYS[3], (b - 1) .. ':' .. ARGV[8 + b], id) end
  redis.call('hset', KEYS[4], id, sig)
end
return {1}
`;

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

/** Corpus statistics of one scope (a run's documents, or its chats), shared through Redis. */
export class CorpusGate {
  readonly #keys: { count: string; sketch: string; bands: string; signatures: string; top: string };

  constructor(
    readonly redis: Redis,
    readonly scope: string,
    readonly spec: ResolvedFilterSpec,
  ) {
    this.#keys = { count: `${scope}:count`, sketch: `${scope}:sketch`, bands: `${scope}:lsh`, signatures: `${scope}:sig`, top: `${scope}:top` };
  }

  async admit(text: string, id: string): Promise<Rejection | null> {
    const { corpus, dedup } = this.spec;
    const features = corpus.enabled ? corpusFeatures(text, corpus.openingWords, corpus.maxShare.ngrams < 1) : [];
    const signature = dedup.enabled ? minhash(text) : undefined;
    const bands = signature ? lshBands(signature) : [];
    const args: (string | number | Buffer)[] = [
      corpus.warmup,
      corpus.enabled ? corpus.maxShare.openings : 1,
      corpus.enabled ? corpus.maxShare.names : 1,
      corpus.enabled ? corpus.maxShare.ngrams : 1,
      dedup.enabled ? dedup.threshold : 2,
      id,
      signature ? signatureBytes(signature) : '',
      bands.length,
      ...bands,
      features.length,
    ];
    for (const feature of features) {
      const family = FEATURE_FAMILIES.indexOf(feature.family);
      args.push(family, feature.label, ...sketchIndexes(family, feature.label));
    }
    const k = this.#keys;
    const result = (await this.redis.eval(ADMIT, 5, k.count, k.sketch, k.bands, k.signatures, k.top, ...args)) as (number | string)[];
    if (result[0] === 1) return null;
    if (result[1] === 'dup') {
      return { reason: 'near-duplicate', rule: 'dedup', detail: `similar to ${result[2]} (${Number(result[3]).toFixed(2)} estimated Jaccard)` };
    }
    const family = FEATURE_FAMILIES[Number(result[2])]!;
    return { reason: FAMILY_REASON[family], rule: `corpus:${family}`, span: String(result[3]), detail: `already in ${result[4]} accepted items; ceiling ${result[5]}` };
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
