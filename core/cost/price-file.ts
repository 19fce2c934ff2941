import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { DEFAULT_PRICES } from './default-prices.js';
import type { ModelPrice, TokenRates } from './model-price.js';
import { normalizeModelName } from './model-name.js';
import { PriceTable } from './price-table.js';

/**
 * The price override file (SDF_PRICES_FILE), YAML or JSON: a map from model name to the fields
 * of its price (see ModelPrice), merged field by field over the defaults, so
 * `gemini-2.5-flash: { output: 3 }` changes one rate. A model the defaults do not know needs
 * `input` and `output`. `<model>: null` removes a default price (its calls become unpriced).
 *
 * ```yaml
 * gemini-2.5-flash: { input: 0.30, output: 2.50, cachedInput: 0.03 }
 * my-tuned-model: { input: 0.5, output: 4, batchDiscount: 0.5,
 *                   longContext: { aboveTokens: 200000, input: 1, output: 6 } }
 * ```
 */
const RATE_FIELDS = ['input', 'output', 'thinking', 'cachedInput'] as const;
const PRICE_FIELDS = [...RATE_FIELDS, 'longContext', 'batchDiscount'] as const;
const LONG_FIELDS = [...RATE_FIELDS, 'aboveTokens'] as const;

type Problems = string[];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function checkRate(value: unknown, path: string, problems: Problems): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${path}: must be a number >= 0 (USD per million tokens), got ${JSON.stringify(value)}`);
}

function checkUnknown(entry: Record<string, unknown>, known: readonly string[], path: string, problems: Problems): void {
  for (const field of Object.keys(entry)) if (!known.includes(field)) problems.push(`${path}.${field}: is not a known field (known: ${known.join(', ')})`);
}

/** A tier the model had already (a default) may be changed one field at a time; a new one needs its threshold and both rates. */
function checkLongContext(value: unknown, path: string, hadTier: boolean, problems: Problems): void {
  if (!isObject(value)) {
    problems.push(`${path}: must be an object with aboveTokens, input and output`);
    return;
  }
  checkUnknown(value, LONG_FIELDS, path, problems);
  if (value.aboveTokens !== undefined || !hadTier) {
    if (!(Number.isInteger(value.aboveTokens) && (value.aboveTokens as number) > 0)) problems.push(`${path}.aboveTokens: must be an integer > 0 (prompt tokens), got ${JSON.stringify(value.aboveTokens)}`);
  }
  if (!hadTier) for (const field of ['input', 'output'] as const) if (value[field] === undefined) problems.push(`${path}.${field}: is required (the model had no long-context tier)`);
  for (const field of RATE_FIELDS) if (value[field] !== undefined) checkRate(value[field], `${path}.${field}`, problems);
}

/** Every problem of one model's entry, each naming the model and the field. */
function entryProblems(model: string, entry: unknown, base: ModelPrice | undefined): Problems {
  const problems: Problems = [];
  if (!isObject(entry)) return [`${model}: must be an object of prices (input, output, …) or null, got ${JSON.stringify(entry)}`];
  checkUnknown(entry, PRICE_FIELDS, model, problems);
  for (const field of RATE_FIELDS) if (entry[field] !== undefined) checkRate(entry[field], `${model}.${field}`, problems);
  if (!base) for (const field of ['input', 'output'] as const) if (entry[field] === undefined) problems.push(`${model}.${field}: is required (the model has no default price)`);
  if (entry.batchDiscount !== undefined && !(typeof entry.batchDiscount === 'number' && entry.batchDiscount >= 0 && entry.batchDiscount <= 1)) {
    problems.push(`${model}.batchDiscount: must be a share between 0 and 1 (0.5 = half price), got ${JSON.stringify(entry.batchDiscount)}`);
  }
  if (entry.longContext !== undefined) checkLongContext(entry.longContext, `${model}.longContext`, Boolean(base?.longContext), problems);
  return problems;
}

/**
 * The defaults with `overrides` merged over them; throws ConfigError listing every problem.
 * `source` names where the overrides came from in the message.
 */
export function mergePrices(overrides: unknown, source: string, defaults: Readonly<Record<string, ModelPrice>> = DEFAULT_PRICES): Record<string, ModelPrice> {
  if (!isObject(overrides)) throw new ConfigError(`${source}: must be a map from model name to prices, got ${JSON.stringify(overrides)}`);
  const merged: Record<string, ModelPrice> = {};
  for (const [model, price] of Object.entries(defaults)) merged[normalizeModelName(model)] = price;
  const problems: Problems = [];
  for (const [model, entry] of Object.entries(overrides)) {
    const name = normalizeModelName(model);
    if (entry === null) {
      delete merged[name];
      continue;
    }
    const base = merged[name];
    const found = entryProblems(model, entry, base);
    if (found.length > 0) {
      problems.push(...found);
      continue;
    }
    const given = entry as Partial<ModelPrice>;
    const longContext = given.longContext ? ({ ...base?.longContext, ...given.longContext } as TokenRates & { aboveTokens: number }) : base?.longContext;
    merged[name] = { ...base, ...given, ...(longContext ? { longContext } : {}) } as ModelPrice;
  }
  if (problems.length > 0) throw new ConfigError(`${source}: ${problems.join('; ')}`);
  return merged;
}

/** The farm's price table: the defaults, with the override file merged over them when one is named. */
export function loadPriceTable(path: string | undefined): PriceTable {
  if (!path) return new PriceTable();
  const source = `SDF_PRICES_FILE (${path})`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${source}: cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return new PriceTable(mergePrices(parsed, source));
}
