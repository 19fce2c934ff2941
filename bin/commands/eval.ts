import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { loadConfig } from '../../core/config.js';
import { SpecError } from '../../core/errors.js';
import { resolveEvalSpec } from '../../core/evals/eval-spec.js';
import type { EvalStatus } from '../../core/evals/eval-status.js';
import { createLogger } from '../../core/logger.js';
import { Releasers } from '../../core/releasers.js';
import { parseSpecDocument } from '../../core/spec/parse-run-spec.js';
import { FarmApiClient } from '../api-client.js';
import { formatEvalReport } from '../eval-table.js';
import { reportFailure } from '../exit-codes.js';
import { startLocalFarm } from '../local-farm.js';
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
  if (api) {
    try {
      return await submitAndReport(new FarmApiClient({ baseUrl: api, token: config.apiToken }), specText, options, Boolean(options.wait));
    } catch (err) {
      return reportFailure('eval', err, Boolean(options.json));
    }
  }

  const logger = createLogger(process.env.LOG_LEVEL || 'warn');
  const releasers = new Releasers(logger);
  try {
    const { client } = await startLocalFarm({ config, logger, releasers, sim: { traitModels: modelList(options.traitModels) } });
    return await submitAndReport(client, specText, options, true);
  } catch (err) {
    return reportFailure('eval', err, Boolean(options.json));
  } finally {
    await releasers.release();
  }
}

async function submitAndReport(client: FarmApiClient, specText: string, options: EvalCommandOptions, wait: boolean): Promise<number> {
  const { id } = await client.submitEval(specText, 'application/yaml');
  process.stderr.write(`eval ${id} submitted to ${client.baseUrl}\n`);
  if (!wait) {
    process.stdout.write(options.json ? `${JSON.stringify({ id })}\n` : `${id}\n`);
    return 0;
  }
  let status: EvalStatus;
  for (;;) {
    status = await client.evalStatus(id);
    if (ENDED.includes(status.state)) break;
    if (process.stderr.isTTY) process.stderr.write(`\r${status.state}: ${status.progress.probes} probes, ${status.progress.answered}/${status.progress.answersExpected} answered, ${status.progress.judged} judged   `);
    await new Promise((r) => setTimeout(r, 500));
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : formatEvalReport(status));
  return status.state === 'completed' ? 0 : 1;
}
