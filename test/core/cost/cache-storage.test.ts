import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadPriceTable } from '../../../core/cost/price-file.js';
import { PriceTable } from '../../../core/cost/price-table.js';

t.test('explicit cache storage: USD per million tokens per hour, where a model has a price for it', async (t) => {
  const prices = new PriceTable();
  t.equal(prices.cacheStorageCostOf('gemini-2.5-flash', 1_000_000, 3_600_000), 1, '1M tokens for an hour on 2.5 Flash: $1');
  t.equal(prices.cacheStorageCostOf('gemini-2.5-pro', 10_000, 1_800_000), (0.01 * 4.5) / 2, '10k tokens for half an hour on 2.5 Pro');
  t.equal(prices.cacheStorageCostOf('models/gemini-2.5-flash-lite-preview-09-2025', 1_000_000, 3_600_000), 1, 'found by the same name rule as every price');
  t.equal(prices.cacheStorageCostOf('gemini-3-flash', 1_000_000, 3_600_000), undefined, 'no cited storage price: unpriced, not free');
});

t.test('SDF_PRICES_FILE may set it, and a bad one names the model and field', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sdf-prices-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'prices.yaml');
  writeFileSync(file, 'gemini-3-flash: { cacheStorage: 1.5 }\n');
  t.equal(loadPriceTable(file).cacheStorageCostOf('gemini-3-flash', 1_000_000, 3_600_000), 1.5);
  writeFileSync(file, 'gemini-3-flash: { cacheStorage: -1 }\n');
  t.throws(() => loadPriceTable(file), /gemini-3-flash\.cacheStorage: must be a number >= 0/);
});
