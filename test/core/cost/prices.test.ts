import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../../core/config.js';
import { ConfigError } from '../../../core/errors.js';
import { priceKeys } from '../../../core/cost/model-name.js';
import { loadPriceTable, mergePrices } from '../../../core/cost/price-file.js';
import { PriceTable } from '../../../core/cost/price-table.js';

const M = 1_000_000;
const prices = new PriceTable();
const close = (t: Test, actual: number | undefined, expected: number, message: string) => t.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${message}: ${actual} ≈ ${expected}`);

t.test('input, output and thinking: thinking is billed as output unless a model says otherwise', async (t) => {
  close(t, prices.costOf('gemini-2.5-flash', { promptTokens: M, outputTokens: M, thoughtsTokens: 0 }), 0.3 + 2.5, '1M in + 1M out on 2.5 Flash');
  close(t, prices.costOf('gemini-2.5-flash', { promptTokens: 0, outputTokens: 0, thoughtsTokens: M }), 2.5, '1M thinking tokens at the output rate');
  close(t, prices.costOf('gemini-2.5-flash-lite', { promptTokens: M, outputTokens: M, thoughtsTokens: 0 }), 0.1 + 0.4, '2.5 Flash-Lite');
  close(t, prices.costOf('gemini-3-flash', { promptTokens: M, outputTokens: M, thoughtsTokens: 0 }), 0.5 + 3, '3 Flash');
  const own = new PriceTable({ thinker: { input: 1, output: 2, thinking: 5 } });
  close(t, own.costOf('thinker', { promptTokens: 0, outputTokens: M, thoughtsTokens: M }), 2 + 5, 'a model with its own thinking rate');
});

t.test('cached tokens are part of the prompt and charged at the cached rate (10% of input by default)', async (t) => {
  const usage = { promptTokens: M, cachedTokens: 600_000, outputTokens: 0, thoughtsTokens: 0 };
  close(t, prices.costOf('gemini-2.5-flash', usage), 0.4 * 0.3 + 0.6 * 0.03, '400k fresh at $0.30 + 600k cached at $0.03');
  close(t, prices.cacheSavingOf('gemini-2.5-flash', usage), 0.6 * (0.3 - 0.03), 'the saving is the cached tokens at the input rate minus the cached rate');
  close(t, prices.costOf('gemini-3-flash', usage), 0.4 * 0.5 + 0.6 * 0.05, '3 Flash states its own cached rate');
  t.equal(prices.cacheSavingOf('gemini-2.5-flash', { promptTokens: 10, outputTokens: 0, thoughtsTokens: 0 }), 0, 'no cached tokens, no saving');
  t.equal(prices.cacheSavingOf('unknown-model', usage), undefined, 'an unpriced model has no saving either');
});

t.test('the long-context tier applies to the whole call, chosen by the prompt size', async (t) => {
  const at = (promptTokens: number, outputTokens = 0, cachedTokens = 0) => prices.costOf('gemini-2.5-pro', { promptTokens, cachedTokens, outputTokens, thoughtsTokens: 0 });
  close(t, at(200_000), 0.2 * 1.25, 'a 200k-token prompt is still the base tier');
  close(t, at(200_001), 0.200001 * 2.5, 'above 200k every prompt token costs $2.50');
  close(t, at(100_000, M), 0.1 * 1.25 + 10, 'output at $10 below the threshold');
  close(t, at(300_000, M), 0.3 * 2.5 + 15, 'and at $15 above it');
  close(t, at(300_000, 0, 100_000), 0.2 * 2.5 + 0.1 * 0.25, 'cached tokens at the long tier\'s cached rate (10% of $2.50)');
  const three = prices.costOf('gemini-3-pro-preview', { promptTokens: 250_000, cachedTokens: 50_000, outputTokens: M, thoughtsTokens: 0 });
  close(t, three, 0.2 * 4 + 0.05 * 0.4 + 18, '3 Pro above 200k: $4 in, $0.40 cached, $18 out');
});

t.test('batch calls cost half of every rate', async (t) => {
  const usage = { promptTokens: M, cachedTokens: 200_000, outputTokens: M, thoughtsTokens: 100_000 };
  const online = prices.costOf('gemini-2.5-flash', usage)!;
  close(t, prices.costOf('gemini-2.5-flash', usage, { batch: true }), online / 2, 'batch = 50% of online');
  close(t, prices.costOf('gemini-2.5-pro', { promptTokens: 300_000, outputTokens: 0, thoughtsTokens: 0 }, { batch: true }), 0.3 * 2.5 * 0.5, 'the long tier, halved');
  const own = new PriceTable({ m: { input: 1, output: 1, batchDiscount: 0.25 } });
  close(t, own.costOf('m', { promptTokens: M, outputTokens: 0, thoughtsTokens: 0 }, { batch: true }), 0.75, 'a model with its own batch discount');
});

t.test('model names: resource prefix and release suffixes are dropped; nothing matches by prefix', async (t) => {
  const priced = (model: string) => prices.priceOf(model)?.rates.input;
  t.equal(priced('models/gemini-2.5-flash'), 0.3, 'models/ prefix');
  t.equal(priced('publishers/google/models/gemini-2.5-pro'), 1.25, 'Vertex resource prefix');
  t.equal(priced('Gemini-2.5-Flash'), 0.3, 'case');
  t.equal(priced('gemini-3-flash-preview'), 0.5, '-preview');
  t.equal(priced('gemini-2.5-flash-preview-09-2025'), 0.3, '-preview with a date');
  t.equal(priced('gemini-2.5-flash-lite-preview-06-17'), 0.1, 'Flash-Lite preview is Flash-Lite, not Flash');
  t.equal(priced('gemini-2.0-flash-001'), 0.1, 'version number');
  t.equal(priced('models/gemini-3.1-pro-preview'), 2, 'prefix and suffix together');
  t.equal(priced('gemini-2.5-flash-image'), undefined, 'another model of the family is not priced as the family');
  t.equal(priced('gemini-2.5-flash-image-preview'), undefined, 'nor its preview');
  t.equal(priced('gemini-flash-latest'), undefined, 'an alias of changing models has no price');
  t.equal(priced('gemini-2.5-flash-exp'), undefined, 'experimental models are not guessed');
  t.equal(priced('gemini-experimental-unpriced'), undefined);
  t.same(priceKeys('models/gemini-3-flash-preview'), ['gemini-3-flash-preview', 'gemini-3-flash'], 'the exact name first, then the family');
  const own = new PriceTable({ 'gemini-3-flash-preview': { input: 9, output: 9 } });
  t.equal(own.priceOf('gemini-3-flash-preview')?.rates.input, 9, 'an exact entry wins over the suffix rule');
  t.equal(own.priceOf('gemini-3-flash')?.rates.input, undefined, 'and does not price the family');
});

t.test('the override file is merged over the defaults field by field', async (t) => {
  const merged = new PriceTable(
    mergePrices(
      {
        'gemini-2.5-flash': { output: 3 },
        'models/my-tuned-model': { input: 0.5, output: 4, longContext: { aboveTokens: 1000, input: 1, output: 8 } },
        'gemini-2.0-flash-lite': null,
        'gemini-2.5-pro': { longContext: { output: 20 } },
      },
      'test',
    ),
  );
  close(t, merged.costOf('gemini-2.5-flash', { promptTokens: M, outputTokens: M, thoughtsTokens: 0 }), 0.3 + 3, 'input kept, output overridden');
  close(t, merged.costOf('my-tuned-model', { promptTokens: 2000, outputTokens: 0, thoughtsTokens: 0 }), 2000 * 1e-6, 'a new model with its own tier');
  t.equal(merged.priceOf('gemini-2.0-flash-lite'), undefined, 'null removes a default price: the model becomes unpriced');
  t.same(merged.priceOf('gemini-2.5-pro')?.longContext, { aboveTokens: 200_000, input: 2.5, output: 20, thinking: 20, cachedInput: 0.25 }, 'one field of the long tier changed, the rest kept');
  t.equal(prices.priceOf('gemini-2.5-flash')?.rates.output, 2.5, 'the defaults themselves are untouched');
});

t.test('a bad override file is refused with every problem, naming the model and the field', async (t) => {
  const problems = (overrides: unknown) => {
    try {
      mergePrices(overrides, 'SDF_PRICES_FILE (p.yaml)');
    } catch (err) {
      t.type(err, ConfigError);
      return (err as Error).message;
    }
    return 'accepted';
  };
  const message = problems({
    'gemini-2.5-flash': { input: -1, outptu: 2 },
    'new-model': { input: 1 },
    'gemini-2.5-pro': { batchDiscount: 2, longContext: { aboveTokens: 0 } },
    'gemini-2.5-flash-lite': { longContext: { input: 1 } },
    other: 'cheap',
  });
  t.match(message, /^SDF_PRICES_FILE \(p\.yaml\): /);
  for (const expected of [
    'gemini-2.5-flash.input: must be a number >= 0',
    'gemini-2.5-flash.outptu: is not a known field',
    'new-model.output: is required (the model has no default price)',
    'gemini-2.5-pro.batchDiscount: must be a share between 0 and 1',
    'gemini-2.5-pro.longContext.aboveTokens: must be an integer > 0',
    'gemini-2.5-flash-lite.longContext.aboveTokens: must be an integer > 0',
    'gemini-2.5-flash-lite.longContext.output: is required (the model had no long-context tier)',
    'other: must be an object of prices',
  ]) {
    t.ok(message.includes(expected), `says "${expected}"`);
  }
  t.match(problems(['gemini-2.5-flash']), /must be a map from model name to prices/);
});

t.test('SDF_PRICES_FILE: YAML or JSON, read at start-up; a bad file stops loadConfig naming the variable', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-prices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = join(dir, 'prices.yaml');
  writeFileSync(yaml, 'gemini-2.5-flash: { input: 0.5, output: 5 }\n');
  const json = join(dir, 'prices.json');
  writeFileSync(json, JSON.stringify({ 'my-model': { input: 1, output: 2 } }));
  t.equal(loadPriceTable(yaml).priceOf('gemini-2.5-flash')?.rates.input, 0.5, 'YAML');
  t.equal(loadPriceTable(json).priceOf('my-model')?.rates.output, 2, 'JSON');
  t.equal(loadConfig({ SDF_PRICES_FILE: yaml }).pricesFile, yaml);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'gemini-2.5-flash: { input: lots }\n');
  t.throws(() => loadConfig({ SDF_PRICES_FILE: bad }), { name: 'ConfigError', message: /SDF_PRICES_FILE \(.*bad\.yaml\): gemini-2\.5-flash\.input: must be a number >= 0/ });
  t.throws(() => loadConfig({ SDF_PRICES_FILE: join(dir, 'missing.yaml') }), { name: 'ConfigError', message: /SDF_PRICES_FILE .*cannot be read/ });
  writeFileSync(bad, 'gemini-2.5-flash: [unclosed\n');
  t.throws(() => loadPriceTable(bad), { message: /not valid YAML or JSON/ });
});
