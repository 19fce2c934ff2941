/**
 * Filter cost and footprint. (1) Per-item + lexical work in one process (= one core): item rules,
 * corpus feature extraction and MinHash, in MB of text per second. (2) Items admitted per second
 * through the shared Redis gate. (3) Redis memory of the corpus statistics as items accumulate,
 * measured at several sizes and extrapolated to 1M items (the sketch is fixed; the near-duplicate
 * index, every `<scope>:ix*` key, grows per item). Saves bench/results/filters.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { CorpusGate, corpusFeatures } from '../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../core/filters/filter-spec.js';
import { createItemFilter } from '../core/filters/item-rules.js';
import { minhash } from '../core/filters/minhash.js';
import { generateDocument } from '../sim/generators/document.js';
import { plantPatterns } from '../sim/patterns.js';
import { defaultPatternRates } from '../sim/options.js';
import { Random } from '../sim/random.js';
import { DOC_TYPES } from '../sim/vocabulary.js';

const ROOT = new URL('../', import.meta.url).pathname;
const CPU_ITEMS = Number(process.env.BENCH_CPU_ITEMS ?? 20_000);
const POINTS = (process.env.BENCH_MEMORY_POINTS ?? '25000,50000,100000,200000').split(',').map(Number);
const TOPICS = 'budgets schedules trust harvest ferries pensions vaccines zoning tariffs orchards bridges libraries sensors payroll rainfall grants tuition freight dialects wetlands audits subways glaciers clinics ledgers'.split(' ');
const random = new Random(5);
const rates = defaultPatternRates();
const nextDoc = () => plantPatterns(generateDocument(random, random.pick(DOC_TYPES), `notes on ${random.sample(TOPICS, 3).join(' and ')}`, `The assistant ${random.pick(TOPICS)} ${random.pick(TOPICS)}.`), 'document', rates, random).text;

// (1) In-process work per item.
// N-grams are counted (a ceiling below 1) but set high: the simulator's prose repeats its phrases.
const spec = resolveFilterSpec({ corpus: { maxShare: { ngrams: 0.99 } } });
const itemFilter = createItemFilter(spec, '- Aster admits uncertainty.\n- Aster does not flatter.');
const docs = Array.from({ length: CPU_ITEMS }, nextDoc);
const bytes = docs.reduce((sum, d) => sum + Buffer.byteLength(d), 0);
const t0 = process.hrtime.bigint();
let rejected = 0;
for (const text of docs) {
  if (itemFilter({ kind: 'document', text, fact: 'The assistant admits uncertainty.' })) rejected++;
  corpusFeatures(text, 5, true);
  minhash(text);
}
const cpuSeconds = Number(process.hrtime.bigint() - t0) / 1e9;

// (2) and (3) Through Redis.
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const scope = `bench-filters-${Date.now().toString(36)}`;
const gate = new CorpusGate(redis, scope, spec);
const fixedKeys = ['count', 'sketch', 'top'].map((k) => `${scope}:${k}`);
/** The near-duplicate index's keys: its state, id prefixes, record chunks and band buckets. */
async function indexKeys(): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${scope}:ix*`, 'COUNT', 1000);
    cursor = next;
    out.push(...found);
  } while (cursor !== '0');
  return out;
}
const usage = async (key: string) => Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
const memory: { items: number; accepted: number; bytes: Record<string, number>; total: number }[] = [];
let admitted = 0;
let gateSeconds = 0;
for (const target of POINTS) {
  const start = process.hrtime.bigint();
  while (admitted < target) {
    const batch = Array.from({ length: Math.min(64, target - admitted) }, (_, i) => ({ id: `d${admitted + i}`, text: nextDoc() }));
    await Promise.all(batch.map((d) => gate.admit(d.text, d.id)));
    admitted += batch.length;
  }
  gateSeconds += Number(process.hrtime.bigint() - start) / 1e9;
  const sizes: Record<string, number> = {};
  for (const key of fixedKeys) sizes[key.slice(scope.length + 1)] = await usage(key);
  const index = await indexKeys();
  sizes.index = 0;
  for (const key of index) sizes.index += await usage(key);
  const accepted = await gate.accepted();
  memory.push({ items: target, accepted, bytes: sizes, total: Object.values(sizes).reduce((a, b) => a + b, 0) });
  console.log(`${target} items: ${(memory.at(-1)!.total / 2 ** 20).toFixed(1)} MiB, index ${(sizes.index / accepted).toFixed(1)} B per accepted item (${index.length} keys)`, sizes);
}
const first = memory[0]!;
const last = memory.at(-1)!;
const perItem = (last.total - first.total) / (last.items - first.items);
const fixed = last.bytes.sketch! + last.bytes.top! + last.bytes.count!;
const perItemDedup = (last.bytes.index! - first.bytes.index!) / (last.accepted - first.accepted);
const allKeys = [...fixedKeys, ...(await indexKeys())];
for (let i = 0; i < allKeys.length; i += 500) await redis.unlink(...allKeys.slice(i, i + 500));
redis.disconnect();

const report = {
  benchmark: 'filters-throughput',
  date: new Date().toISOString(),
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
  perItemAndLexical: {
    items: CPU_ITEMS,
    megabytes: bytes / 2 ** 20,
    seconds: cpuSeconds,
    mbPerSecondPerCore: bytes / 2 ** 20 / cpuSeconds,
    itemsPerSecondPerCore: CPU_ITEMS / cpuSeconds,
    rejectedByItemRules: rejected,
  },
  sharedGate: { itemsAdmittedOrRejected: admitted, itemsPerSecond: admitted / gateSeconds, note: 'includes generating each document; 64 admits in flight' },
  redisMemory: {
    measured: memory,
    fixedBytes: fixed,
    bytesPerItem: perItem,
    bytesPerItemNearDuplicateIndex: perItemDedup,
    bytesPerAcceptedItemNearDuplicateIndexAtLast: last.bytes.index! / last.accepted,
    extrapolatedTo1M: { bytes: fixed + perItemDedup * 1_000_000, mebibytes: (fixed + perItemDedup * 1_000_000) / 2 ** 20, method: 'fixed sketch + measured per-item growth of the near-duplicate index (records and band buckets) × 1M' },
    lexicalOnly1M: { mebibytes: fixed / 2 ** 20, note: 'the count-min sketch and top-features board do not grow with items' },
  },
};
writeFileSync(join(ROOT, 'bench/results/filters.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));
