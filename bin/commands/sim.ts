import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { BATCH_OUTCOMES, DEFAULT_SIM_OPTIONS, PLANTED_PATTERNS, startSim, type BatchOutcome, type SimOptions } from '../../sim/index.js';

function num(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${value}`);
    return n;
  };
}

function patternRate(value: string, previous: Record<string, number> = {}) {
  const [id, rate] = value.split('=');
  if (!id || rate === undefined || !Number.isFinite(Number(rate))) throw new Error(`--pattern-rate: expected id=rate, got ${value}`);
  return { ...previous, [id]: Number(rate) };
}

/** `a, b` → ['a', 'b']. */
export function modelList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run the Gemini-compatible simulator (same REST API as Gemini; point GEMINI_BASE_URL at it)')
    .addHelpText('after', examples('sdf-farm sim --port 8090 --latency-ms 200 --rpm 600', 'GEMINI_BASE_URL=http://127.0.0.1:8090 sdf-farm worker'))
    .option('--port <port>', 'port (0 = any free port)', num('port'), Number(process.env.PORT ?? 8090))
    .option('--host <host>', 'interface to bind', process.env.HOST ?? '127.0.0.1')
    .option('--seed <n>', 'seed of every random choice', num('seed'), 1)
    .option('--latency-ms <ms>', 'latency of every answer', num('latency-ms'), 0)
    .option('--jitter-ms <ms>', 'extra uniform latency 0..ms', num('jitter-ms'), 0)
    .option('--rpm <n>', 'requests per minute per model (0 = unlimited)', num('rpm'), 0)
    .option('--tpm <n>', 'input tokens per minute per model (0 = unlimited)', num('tpm'), 0)
    .option('--rpd <n>', 'requests per day per model (0 = unlimited)', num('rpd'), 0)
    .option('--quota-window-ms <ms>', 'window --rpm and --tpm count in (Gemini: a minute); shorter scales a quota test down in time', num('quota-window-ms'), 60_000)
    .option('--error-rate-429 <p>', 'share of spurious 429s (spread evenly: one per 1/p requests)', num('error-rate-429'), 0)
    .option('--error-rate-5xx <p>', 'share of 500/503 answers (spread evenly)', num('error-rate-5xx'), 0)
    .option('--timeout-rate <p>', 'share of requests never answered (spread evenly)', num('timeout-rate'), 0)
    .option('--malformed-rate <p>', 'share of broken JSON answers to structured requests', num('malformed-rate'), 0)
    .option('--safety-rate <p>', 'share answered finishReason SAFETY', num('safety-rate'), 0)
    .option('--max-tokens-rate <p>', 'share cut short with MAX_TOKENS', num('max-tokens-rate'), 0)
    .option('--unsuitable-rate <p>', 'share of ideas marked unsuitable', num('unsuitable-rate'), 0.1)
    .option('--duplicate-rate <p>', 'share of near-duplicate documents', num('duplicate-rate'), 0)
    .option('--pattern-rate <id=rate>', `planting rate of a pattern (repeatable): ${PLANTED_PATTERNS.map((p) => p.id).join(', ')}`, patternRate)
    .option('--patterns <on|off>', 'off plants no patterns at all', 'on')
    .option('--implicit-cache-min-tokens <n>', 'implicit caching: a repeated prompt prefix of at least n tokens is reported cached', num('implicit-cache-min-tokens'), DEFAULT_SIM_OPTIONS.implicitCacheMinTokens)
    .option('--explicit-cache-min-tokens <n>', 'smallest cachedContents accepted (smaller: 400)', num('explicit-cache-min-tokens'), DEFAULT_SIM_OPTIONS.explicitCacheMinTokens)
    .option('--batch-delay-ms <ms>', 'a batch ends this long after creation (PENDING the first half, RUNNING the second)', num('batch-delay-ms'), DEFAULT_SIM_OPTIONS.batchDelayMs)
    .option('--batch-request-error-rate <p>', 'share of batch requests answered with an INTERNAL error (spread evenly)', num('batch-request-error-rate'), DEFAULT_SIM_OPTIONS.batchRequestErrorRate)
    .option('--batch-outcome <outcome>', `how batches end: ${BATCH_OUTCOMES.join(', ')}`, DEFAULT_SIM_OPTIONS.batchOutcome)
    .option('--batch-inline-max-bytes <n>', 'largest batchGenerateContent body (Gemini: 20 MB)', num('batch-inline-max-bytes'), DEFAULT_SIM_OPTIONS.batchInlineMaxBytes)
    .option('--batch-enqueued-tokens-limit <n>', 'input tokens a model may have in unfinished batches; past it, 429 without RetryInfo (0 = unlimited)', num('batch-enqueued-tokens-limit'), DEFAULT_SIM_OPTIONS.batchEnqueuedTokensLimit)
    .option('--spend-capped', 'answer every online generateContent 429 with no RetryInfo, only a Help link, as Gemini does for a project over its spending cap')
    .option('--files-max-bytes <n>', 'bytes the Files API holds in memory; uploads past it get 429', num('files-max-bytes'), DEFAULT_SIM_OPTIONS.filesMaxBytes)
    .option('--trait-models <names>', 'comma-separated model names that have the traits and believe the facts of an eval (their answers keep to the trait; the judge scores them high)', '')
    .option('--probe-reuse-rate <p>', 'share of eval probes written by copying a chat prompt the simulator wrote earlier (to see the held-out check drop them)', num('probe-reuse-rate'), 0)
    .action(async (o: Record<string, unknown>) => {
      const rates: Record<string, number> =
        o.patterns === 'off' ? Object.fromEntries(PLANTED_PATTERNS.map((p) => [p.id, 0])) : ((o.patternRate as Record<string, number> | undefined) ?? {});
      const options: Partial<SimOptions> = {
        port: o.port as number,
        host: o.host as string,
        seed: o.seed as number,
        latencyMs: o.latencyMs as number,
        jitterMs: o.jitterMs as number,
        rpm: o.rpm as number,
        tpm: o.tpm as number,
        rpd: o.rpd as number,
        quotaWindowMs: o.quotaWindowMs as number,
        errorRate429: o.errorRate429 as number,
        errorRate5xx: o.errorRate5xx as number,
        timeoutRate: o.timeoutRate as number,
        malformedRate: o.malformedRate as number,
        safetyRate: o.safetyRate as number,
        maxTokensRate: o.maxTokensRate as number,
        unsuitableRate: o.unsuitableRate as number,
        duplicateRate: o.duplicateRate as number,
        patternRates: rates,
        implicitCacheMinTokens: o.implicitCacheMinTokens as number,
        explicitCacheMinTokens: o.explicitCacheMinTokens as number,
        batchDelayMs: o.batchDelayMs as number,
        batchRequestErrorRate: o.batchRequestErrorRate as number,
        batchOutcome: o.batchOutcome as BatchOutcome,
        batchInlineMaxBytes: o.batchInlineMaxBytes as number,
        batchEnqueuedTokensLimit: o.batchEnqueuedTokensLimit as number,
        filesMaxBytes: o.filesMaxBytes as number,
        spendCapped: Boolean(o.spendCapped),
        traitModels: modelList(o.traitModels as string),
        probeReuseRate: o.probeReuseRate as number,
      };
      const sim = await startSim(options);
      process.stdout.write(`sim listening on ${sim.url}\n`);
      const stop = () => void sim.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
