import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { loadConfig, type FarmConfig } from '../../core/config.js';
import { SpecError } from '../../core/errors.js';
import { resolveEvalSpec } from '../../core/evals/eval-spec.js';
import type { EvalStatus } from '../../core/evals/eval-status.js';
import { createLogger } from '../../core/logger.js';
import { redisAnswers } from '../../core/redis.js';
import { Releasers } from '../../core/releasers.js';
import { parseSpecDocument } from '../../core/spec/parse-run-spec.js';
import { startFarmServer } from '../../producer/main.js';
import { startSim } from '../../sim/index.js';
import { startWorkerProcess } from '../../workers/main.js';
import { formatEvalReport } from '../eval-table.js';
import { geminiFromConfig } from '../gemini-from-config.js';
import { startLocalRedis } from '../local-redis.js';
import { modelList } from './sim.js';

interface EvalCommandOptions {
  api?: string;
  wait?: boolean;
  json?: boolean;
  traitModels?: string;
}

const ENDED = ['completed', 'cancelled', 'failed'];

/**
 * `sdf-farm eval SPEC`: submits a trait evaluation. With `--api URL` (or SDF_API_URL) to that
 * farm, printing its id, or its report with `--wait`; without, on an all-in-one farm on this
 * machine, as `sdf-farm run` does, waiting for the report.
 */
export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('evaluate target models on the traits (and key facts) of a universe: held-out probes, answers, judge scores')
    .argument('<spec>', 'eval spec file (YAML or JSON): universe, traits?, keyFacts?, probesPerTrait, models, judge?, runId?')
    .option('--api <url>', 'submit to this farm (default SDF_API_URL); without either, runs a farm on this machine')
    .option('--wait', 'with --api: wait for the eval to end and print its report')
    .option('--json', 'print the status JSON (GET /v1/evals/:id) instead of the table')
    .option('--trait-models <names>', 'on this machine with the built-in simulator: models that have the traits (see `sdf-farm sim --help`)')
    .addHelpText('after', examples('sdf-farm eval examples/eval.yaml --trait-models sim-trained', 'SDF_API_TOKEN=… sdf-farm eval examples/eval.yaml --api https://farm.example:8080 --wait'))
    .action(async (specPath: string, options: EvalCommandOptions) => {
      process.exitCode = await evalCommand(specPath, options);
    });
}

export async function evalCommand(specPath: string, options: EvalCommandOptions): Promise<number> {
  let specText: string;
  try {
    specText = readFileSync(specPath, 'utf8');
    resolveEvalSpec(parseSpecDocument(specText, specPath));
  } catch (err) {
    const problems = err instanceof SpecError ? err.problems.map((p) => `  ${p}\n`).join('') : `  ${(err as Error).message}\n`;
    process.stderr.write(`${specPath}: invalid eval spec\n${problems}`);
    return 2;
  }
  const config = loadConfig();
  const api = options.api ?? process.env.SDF_API_URL;
  if (api) return submitAndReport(api.replace(/\/$/, ''), config, specText, options, Boolean(options.wait));

  const logger = createLogger(process.env.LOG_LEVEL || 'warn');
  const releasers = new Releasers(logger);
  try {
    let local = config;
    if (!(await redisAnswers(config.redisUrl))) {
      const redis = await startLocalRedis();
      releasers.push(() => redis.stop());
      process.stderr.write(`no Redis at ${config.redisUrl}; started a private one at ${redis.url}\n`);
      local = { ...config, redisUrl: redis.url };
    }
    let gemini = geminiFromConfig(local);
    if (!gemini) {
      const sim = await startSim({ port: 0, traitModels: modelList(options.traitModels) });
      releasers.push(() => sim.close());
      process.stderr.write(`no GEMINI_API_KEY: using the built-in Gemini simulator at ${sim.url}\n`);
      gemini = geminiFromConfig(local, sim.url)!;
    }
    const server = await startFarmServer({ config: local, logger, port: 0, gemini });
    releasers.push(() => server.close());
    const worker = await startWorkerProcess({ config: local, gemini, logger, metricsServer: false });
    releasers.push(() => worker.close(5_000));
    return await submitAndReport(server.api.url, local, specText, options, true);
  } catch (err) {
    process.stderr.write(`sdf-farm eval: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await releasers.release();
  }
}

function headers(config: FarmConfig, contentType?: string): Record<string, string> {
  const token = process.env.SDF_API_TOKEN ?? config.apiToken;
  return { ...(contentType ? { 'content-type': contentType } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

async function submitAndReport(api: string, config: FarmConfig, specText: string, options: EvalCommandOptions, wait: boolean): Promise<number> {
  const res = await fetch(`${api}/v1/evals`, { method: 'POST', headers: headers(config, 'application/yaml'), body: specText });
  const body = (await res.json()) as { id?: string; error?: string; problems?: string[] };
  if (res.status !== 202 || !body.id) {
    process.stderr.write(`sdf-farm eval: refused (${res.status}): ${body.error ?? ''}\n${(body.problems ?? []).map((p) => `  ${p}\n`).join('')}`);
    return res.status === 400 ? 2 : 1;
  }
  process.stderr.write(`eval ${body.id} submitted to ${api}\n`);
  if (!wait) {
    process.stdout.write(options.json ? `${JSON.stringify({ id: body.id })}\n` : `${body.id}\n`);
    return 0;
  }
  let status: EvalStatus;
  for (;;) {
    const poll = await fetch(`${api}/v1/evals/${body.id}`, { headers: headers(config) });
    status = (await poll.json()) as EvalStatus;
    if (!poll.ok) throw new Error(`GET /v1/evals/${body.id}: ${poll.status} ${JSON.stringify(status)}`);
    if (ENDED.includes(status.state)) break;
    if (process.stderr.isTTY) process.stderr.write(`\r${status.state}: ${status.progress.probes} probes, ${status.progress.answered}/${status.progress.answersExpected} answered, ${status.progress.judged} judged   `);
    await new Promise((r) => setTimeout(r, 500));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatEvalReport(status));
  return status.state === 'completed' ? 0 : 1;
}
