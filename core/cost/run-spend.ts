/**
 * A run's spend as its ledger recorded it (producer/commit-batch.ts writes the fields): per
 * stage (`spend:<stage>:<kind>`, the pattern audit's calls under `audit`) and per model
 * (`model:<model>:<kind>`), each with calls, tokens, USD and the prompt cache's saving.
 */
export interface SpendLine {
  calls: number;
  tokens: { prompt: number; cached: number; output: number; thoughts: number };
  /** USD of the calls whose model has a price: a lower bound when `unpricedCalls` > 0. */
  usd: number;
  unpricedCalls: number;
  /** What cached prompt tokens saved (their cost at the input rate minus at the cached rate). */
  cacheSavingUsd: number;
}

export interface RunSpend {
  stages: Record<string, SpendLine>;
  models: Record<string, SpendLine>;
}

function emptyLine(): SpendLine {
  return { calls: 0, tokens: { prompt: 0, cached: 0, output: 0, thoughts: 0 }, usd: 0, unpricedCalls: 0, cacheSavingUsd: 0 };
}

function add(line: SpendLine, kind: string, value: number): void {
  if (kind === 'calls') line.calls += value;
  else if (kind === 'prompt' || kind === 'cached' || kind === 'output' || kind === 'thoughts') line.tokens[kind] += value;
  else if (kind === 'usd') line.usd += value;
  else if (kind === 'unpriced') line.unpricedCalls += value;
  else if (kind === 'cacheSaving') line.cacheSavingUsd += value;
}

/** The spend lines of a run's stats hash (numbers already parsed). */
export function readRunSpend(stats: Record<string, number>): RunSpend {
  const spend: RunSpend = { stages: {}, models: {} };
  for (const [field, value] of Object.entries(stats)) {
    const scope = field.startsWith('spend:') ? spend.stages : field.startsWith('model:') ? spend.models : undefined;
    if (!scope) continue;
    // The kind is the last segment; the name is what lies between (a model name may hold ':').
    const rest = field.slice(field.indexOf(':') + 1);
    const cut = rest.lastIndexOf(':');
    if (cut <= 0) continue;
    add((scope[rest.slice(0, cut)] ??= emptyLine()), rest.slice(cut + 1), value);
  }
  return spend;
}
