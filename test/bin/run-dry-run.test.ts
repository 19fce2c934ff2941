import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { PriceTable } from '../../core/cost/price-table.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { parseRunSpec } from '../../core/spec/parse-run-spec.js';
import { estimateRun } from '../../producer/run-estimate.js';
import { runCli as sdfFarm } from '../helpers/cli.js';


t.test('sdf-farm run SPEC --dry-run prints the estimate and starts nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-dry-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const specText = 'name: dry\nuniverse: |\n  - Aster admits uncertainty.\nkeyFacts: [Aster admits uncertainty.]\ndocuments: { docTypesPerFact: 2, ideasPerType: 3, docsPerIdea: 4 }\n';
  const specPath = join(dir, 'spec.yaml');
  writeFileSync(specPath, specText);
  const prices = join(dir, 'prices.yaml');
  writeFileSync(prices, 'gemini-2.5-flash: { input: 1, output: 10 }\n');
  // No Redis answers on this port and the data folder stays empty: a dry run needs neither.
  const env = { REDIS_URL: 'redis://127.0.0.1:1', DATA_DIR: join(dir, 'data'), SDF_PRICES_FILE: prices };
  const json = await sdfFarm(['run', specPath, '--dry-run', '--json'], env);
  t.equal(json.code, 0, json.stderr);
  const expected = estimateRun(parseRunSpec(specText), { prices: new PriceTable({ 'gemini-2.5-flash': { input: 1, output: 10 } }), prompts: new PromptLibrary() });
  t.same(JSON.parse(json.stdout), { dryRun: true, ...expected }, 'the same estimate as the API, with SDF_PRICES_FILE applied');
  const table = await sdfFarm(['run', specPath, '--dry-run'], env);
  t.equal(table.code, 0);
  t.match(table.stdout, /^documents\s+gemini-2\.5-flash\s+24\s/m, 'a row per stage');
  t.match(table.stdout, /^total\s+27\s/m);
  t.match(table.stdout, /assumptions:/);
  t.same(readdirSync(dir).sort(), ['prices.yaml', 'spec.yaml'], 'no data folder, no output written');
  const bad = await sdfFarm(['run', specPath, '--dry-run'], { ...env, SDF_PRICES_FILE: specPath });
  t.equal(bad.code, 2, 'a bad price file is refused');
  t.match(bad.stderr, /SDF_PRICES_FILE .*name: must be an object of prices/);
});
