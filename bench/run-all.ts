/**
 * `npm run bench [-- name …]`: runs the benchmarks (each its own process, one after another) and
 * leaves their figures in bench/results/*.json. Names: the file names below without `.ts`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('./', import.meta.url).pathname;
const HELPERS = new Set(['run-all', 'sim-metrics']);
const all = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !HELPERS.has(f.slice(0, -3)))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of wanted.length ? wanted : all) {
  console.log(`\n== bench ${name}`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(dir, `${name}.ts`)], { stdio: 'inherit' });
  if (result.status !== 0) failed++;
  const saved = join(dir, 'results');
  if (existsSync(saved)) console.log(`figures saved under ${saved}`);
}
process.exit(failed ? 1 : 0);
