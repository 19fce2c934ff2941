import { spawn } from 'node:child_process';
import t from 'tap';
import { CorpusGate } from '../../../core/filters/corpus-gate.js';
import { resolveFilterSpec } from '../../../core/filters/filter-spec.js';
import { personKeys } from '../../../core/filters/person-names.js';
import { opening } from '../../../core/filters/text-features.js';
import { plantedCorpus } from '../../helpers/corpus.js';
import { REPO_ROOT } from '../../helpers/farm.js';
import { TEST_REDIS_URL, testRedis } from '../../helpers/redis.js';

const SPEC = resolveFilterSpec({ corpus: { warmup: 50 } });

t.test('openings and names over the ceiling are turned away; the accepted set stays under it', async (t) => {
  const { redis, prefix } = await testRedis(t, 'gate');
  const gate = new CorpusGate(redis, `${prefix}:scope`, SPEC);
  const corpus = plantedCorpus(800, 'document', { 'formulaic-opening': 0.2, 'stock-name': 0.2 });
  const accepted: string[] = [];
  const reasons: Record<string, number> = {};
  for (const item of corpus.items) {
    const rejection = await gate.admit(item.text, item.id);
    if (rejection) reasons[rejection.reason] = (reasons[rejection.reason] ?? 0) + 1;
    else accepted.push(item.text);
  }
  t.equal(await gate.accepted(), accepted.length);
  const share = (test: (text: string) => boolean) => accepted.filter(test).length / accepted.length;
  const ceiling = (n: number) => Math.max(1, Math.floor(0.02 * Math.max(n, 50))) / n;
  t.ok(share((x) => opening(x) === "in today's fast paced world") <= ceiling(accepted.length), 'the planted opening is at or under 2% of the accepted set');
  t.ok(share((x) => personKeys(x).includes('Sarah Chen')) <= ceiling(accepted.length), 'the planted name is at or under 2%');
  t.ok(reasons['corpus-opening']! > 100 && reasons['corpus-name']! > 100, `carriers beyond the ceiling were rejected: ${JSON.stringify(reasons)}`);
  t.ok(accepted.length >= 500, `clean items pass (${accepted.length} of 800 accepted)`);
  const top = await gate.top(5);
  t.ok(top.some((f) => f.family === 'name' && f.label === 'Sarah Chen'), 'the top-features board shows the capped name');
});

t.test('near-duplicates of accepted items are rejected; distinct items are not', async (t) => {
  const { redis, prefix } = await testRedis(t, 'gate');
  const gate = new CorpusGate(redis, `${prefix}:scope`, resolveFilterSpec({ corpus: { enabled: false } }));
  const corpus = plantedCorpus(300, 'document', {});
  for (const item of corpus.items) t.equal(await gate.admit(item.text, item.id), null, `${item.id} is distinct`);
  let caught = 0;
  for (const item of corpus.items.slice(0, 50)) {
    const copy = item.text.replace(/\.\s*$/, '. Updated.').replace(/\bthe\b/, 'a');
    const rejection = await gate.admit(copy, `${item.id}-copy`);
    if (rejection?.reason === 'near-duplicate' && rejection.detail?.includes(item.id)) caught++;
  }
  t.ok(caught >= 48, `near-copies are caught and name the original (${caught}/50)`);
  t.equal(await gate.admit(corpus.items[0]!.text, corpus.items[0]!.id), null, 'an item is not a duplicate of itself (a retried task)');
});

t.test('three worker processes share the statistics: together they keep the ceiling', async (t) => {
  const { redis, prefix } = await testRedis(t, 'gate');
  const scope = `${prefix}:shared`;
  const script = `
    import { Redis } from 'ioredis';
    import { CorpusGate } from '${REPO_ROOT}core/filters/corpus-gate.ts';
    import { resolveFilterSpec } from '${REPO_ROOT}core/filters/filter-spec.ts';
    import { plantedCorpus } from '${REPO_ROOT}test/helpers/corpus.ts';
    const redis = new Redis(process.env.REDIS_URL);
    const gate = new CorpusGate(redis, process.env.SCOPE, resolveFilterSpec({ corpus: { warmup: 50 } }));
    const corpus = plantedCorpus(300, 'document', { 'formulaic-opening': 0.3 }, Number(process.env.SEED));
    const accepted = [];
    await Promise.all(corpus.items.map(async (item) => { if (!(await gate.admit(item.text, process.env.SEED + item.id))) accepted.push(item.text); }));
    process.stdout.write(JSON.stringify(accepted)); redis.disconnect();`;
  const run = (seed: number) =>
    new Promise<string[]>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, env: { ...process.env, REDIS_URL: TEST_REDIS_URL, SCOPE: scope, SEED: String(seed) } });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => process.stderr.write(d));
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as string[]) : reject(new Error(`child exited ${code}`))));
    });
  const accepted = (await Promise.all([run(1), run(2), run(3)])).flat();
  const gate = new CorpusGate(redis, scope, SPEC);
  t.equal(await gate.accepted(), accepted.length, 'the shared count is every process’s accepts, no more, no less');
  const carriers = accepted.filter((x) => opening(x) === "in today's fast paced world").length;
  t.ok(carriers <= Math.floor(0.02 * accepted.length) + 1, `the planted opening: ${carriers} of ${accepted.length} accepted (ceiling 2%)`);
  t.ok(carriers >= 1);
});
