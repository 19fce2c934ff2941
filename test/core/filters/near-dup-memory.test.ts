import t from 'tap';
import { CorpusGate } from '../../../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../../../core/filters/filter-spec.js';
import { words } from '../../../core/filters/text-features.js';
import { plantedCorpus } from '../../helpers/corpus.js';
import { ownRedisServer, usedMemory } from '../../helpers/redis-server.js';

/**
 * The near-duplicate index's footprint and quality on a corpus large enough to split its band
 * buckets many times: Redis bytes per accepted item (issue 9: at most 150), near-copies still
 * caught at the default threshold (0.8), distinct documents not turned away. An own Redis server,
 * so `used_memory` counts this index and nothing else; the corpus statistics are off, so the
 * fixed-size count-min sketch is not in the figure.
 */
const ITEMS = Number(process.env.NEAR_DUP_ITEMS ?? 8000);
const COPIES = 400;

/** Exact Jaccard similarity of two texts' word 5-shingle sets (what MinHash estimates). */
function jaccard(a: string, b: string): number {
  const shingles = (text: string) => {
    const w = words(text);
    const out = new Set<string>();
    for (let i = 0; i + 5 <= w.length; i++) out.add(w.slice(i, i + 5).join(' '));
    return out;
  };
  const x = shingles(a);
  const y = shingles(b);
  let both = 0;
  for (const s of x) if (y.has(s)) both++;
  return both / (x.size + y.size - both);
}

/** A near-copy: three words replaced, at a quarter, half and three quarters of the text. */
function nearCopy(text: string): string {
  const parts = text.split(' ');
  for (const at of [0.25, 0.5, 0.75]) parts[Math.floor(parts.length * at)] = 'zeppelin';
  return parts.join(' ');
}

t.test('the near-duplicate index: bytes per accepted item, near-copies caught, distinct items kept', async (t) => {
  const { redis } = await ownRedisServer(t);
  const scope = 'nd:scope';
  const gate = new CorpusGate(redis, scope, resolveFilterSpec({ corpus: { enabled: false } }));
  const corpus = plantedCorpus(ITEMS, 'document', {}, 7);

  // A warm-up admit so the script and connection buffers are in place before the baseline.
  await gate.admit('warm up text for the gate and its script cache', 'warm-0');
  const before = await usedMemory(redis);
  let falseRejects = 0;
  const accepted: { id: string; text: string }[] = [];
  for (let i = 0; i < corpus.items.length; i += 64) {
    const batch = corpus.items.slice(i, i + 64);
    const results = await Promise.all(batch.map((item) => gate.admit(item.text, item.id)));
    results.forEach((rejection, k) => {
      if (rejection) falseRejects++;
      else accepted.push(batch[k]!);
    });
  }
  const after = await usedMemory(redis);
  const count = await gate.accepted();
  let keyBytes = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${scope}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) keyBytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  } while (cursor !== '0');
  const perItem = (after - before) / (count - 1);
  const perItemKeys = keyBytes / count;
  t.comment(`${count} accepted of ${ITEMS + 1}: used_memory ${perItem.toFixed(1)} B/item, MEMORY USAGE of the index keys ${perItemKeys.toFixed(1)} B/item`);
  t.ok(perItem <= 150, `Redis used_memory grows at most 150 bytes per accepted item (${perItem.toFixed(1)})`);
  t.ok(perItemKeys <= 150, `the index keys hold at most 150 bytes per accepted item (${perItemKeys.toFixed(1)})`);

  const falsePositiveRate = falseRejects / ITEMS;
  t.comment(`distinct documents rejected: ${falseRejects} of ${ITEMS} (${(falsePositiveRate * 100).toFixed(3)}%)`);
  t.ok(falsePositiveRate <= 0.002, `distinct documents are not turned away as near-duplicates (${falseRejects} of ${ITEMS})`);

  // Originals from all over the run: early items sit in buckets split many times since. A copy
  // is judged by its exact Jaccard similarity: well above the threshold (≥ 0.85) it must be
  // caught; near the threshold the estimate decides either way, as MinHash always did.
  const step = Math.floor(accepted.length / COPIES);
  const byBand = new Map<string, { copies: number; caught: number }>();
  let clear = 0;
  let clearCaught = 0;
  let named = 0;
  let caught = 0;
  for (let k = 0; k < COPIES; k++) {
    const original = accepted[k * step]!;
    const copy = nearCopy(original.text);
    const similarity = jaccard(original.text, copy);
    const rejection = await gate.admit(copy, `copy-${k}`);
    const hit = rejection?.reason === 'near-duplicate';
    if (hit) caught++;
    if (rejection?.detail?.includes(`similar to ${original.id} `)) named++;
    if (similarity >= 0.85) {
      clear++;
      if (hit) clearCaught++;
    }
    const band = similarity >= 0.9 ? '≥0.90' : similarity >= 0.85 ? '0.85–0.90' : similarity >= 0.8 ? '0.80–0.85' : '<0.80';
    const entry = byBand.get(band) ?? { copies: 0, caught: 0 };
    entry.copies++;
    if (hit) entry.caught++;
    byBand.set(band, entry);
  }
  t.comment(`near-copies (3 words replaced) caught by exact Jaccard: ${JSON.stringify(Object.fromEntries(byBand))}; ${caught} of ${COPIES} in all, ${named} naming their original`);
  t.ok(clear >= COPIES / 2, `most near-copies are well above the threshold (${clear})`);
  t.ok(clearCaught >= clear * 0.98, `near-copies with Jaccard ≥ 0.85 are caught at the default threshold (${clearCaught}/${clear})`);
  t.equal(named, caught, 'every rejection names its original');
});

t.test('revisions replace their drafts in the index after many bucket splits, and the freed entries are gone', async (t) => {
  const { redis } = await ownRedisServer(t);
  const scope = 'nd:revise';
  const gate = new CorpusGate(redis, scope, resolveFilterSpec({ corpus: { enabled: false } }));
  const corpus = plantedCorpus(3000, 'document', {}, 11);
  const admitAll = async (items: { id: string; text: string }[], options: (item: { id: string; text: string }) => Parameters<CorpusGate['admit']>[2]) => {
    const out: (Awaited<ReturnType<CorpusGate['admit']>>)[] = [];
    for (let i = 0; i < items.length; i += 64) out.push(...(await Promise.all(items.slice(i, i + 64).map((item) => gate.admit(item.text, item.id, options(item))))));
    return out;
  };
  t.same((await admitAll(corpus.items.map((d, i) => ({ id: `documents-${i}`, text: d.text })), () => ({ provisional: true }))).filter(Boolean), [], 'the drafts pass');
  const [entriesBefore] = await redis.hmget(`${scope}:ix`, 'e');
  // A revision: the draft with its last sentence cut, a near-duplicate of it by any measure.
  const revisions = corpus.items.map((d, i) => ({ id: `revise-${i}`, text: d.text.replace(/[^.!?\n]+[.!?]\s*$/, '').trim(), draft: { id: `documents-${i}`, text: d.text } }));
  const rejected = (await admitAll(revisions, (r) => ({ replaces: (r as (typeof revisions)[number]).draft }))).filter(Boolean);
  t.same(rejected, [], 'no revision is a near-duplicate of its own draft');
  t.equal(await gate.accepted(), 3000, 'one entry per document');

  // The index's entry count is what its buckets hold: every draft's entries were taken out.
  let held = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${scope}:ix:b:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const data = (await redis.getBuffer(key))!;
      for (let pos = 0; pos + 6 <= data.length; pos += 6) if (data.readUIntBE(pos, 6) !== 0) held++;
    }
  } while (cursor !== '0');
  const [entries] = await redis.hmget(`${scope}:ix`, 'e');
  t.equal(held, Number(entries), `the buckets hold the counted entries (${held})`);
  t.ok(Number(entries) <= Number(entriesBefore) * 1.01, `the drafts' entries were freed, not added to (${entriesBefore} → ${entries})`);

  // Near-copies of revisions are caught and name the revision, not its released draft.
  let caught = 0;
  let named = 0;
  for (const r of revisions.slice(0, 200)) {
    const rejection = await gate.admit(nearCopy(r.text), `copy of ${r.id}`);
    if (rejection?.reason === 'near-duplicate') caught++;
    if (rejection?.detail?.includes(`similar to ${r.id} `)) named++;
  }
  t.ok(caught >= 180, `near-copies of revisions are caught (${caught}/200)`);
  t.equal(named, caught, 'and name the revision, not its released draft');
  t.equal(await gate.admit(revisions[0]!.text, revisions[0]!.id), null, 'a retried revision is not a duplicate of itself');
  t.match(await gate.admit(revisions[1]!.text, 'an id of another shape'), { reason: 'near-duplicate' });
  t.match(await gate.admit(revisions[1]!.text + ' Again.', 'another-one'), { detail: /similar to (revise-1|an id of another shape) / }, 'ids of any shape are named');
});
