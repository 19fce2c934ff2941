import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import type { FarmApiClient } from '../api-client.js';
import { formatEstimate } from '../estimate-table.js';
import { CliError, EXIT } from '../exit-codes.js';
import { exitCodeOfRun, followRun, intervalOption } from '../follow-run.js';
import { examples } from '../help-examples.js';
import { remoteCommand, type RemoteOptions } from '../remote-command.js';
import type { RunEstimate } from '../../producer/run-estimate.js';

interface SubmitOptions extends RemoteOptions {
  wait?: boolean;
  dryRun?: boolean;
  idempotencyKey?: string;
  interval: number;
}

/** `sdf-farm submit SPEC`: the spec goes to the farm as written; the farm validates it (400 → exit 2 with its problems). */
export function registerSubmitCommand(program: Command): void {
  remoteCommand<SubmitOptions>(program, 'submit', submit)
    .description('submit a run spec to a farm and print the run id')
    .argument('<spec>', 'run spec file (YAML or JSON)')
    .option('--wait', 'follow the run until it ends; exit 0 only if it completed')
    .option('--dry-run', "print the farm's estimate (tasks, tokens, USD) instead; nothing is created")
    .option('--idempotency-key <key>', 'the same key and spec give the same run (a retried submit does not run twice)')
    .option('--interval <ms>', 'with --wait: time between status polls', intervalOption, 1000)
    .addHelpText(
      'after',
      examples(
        'RUN=$(sdf-farm submit examples/traits-run.yaml --api http://farm:8080)',
        'SDF_API_TOKEN=... sdf-farm submit spec.yaml --wait && sdf-farm export "$RUN" -o docs.jsonl',
        'sdf-farm submit spec.yaml --dry-run',
      ),
    );
}

async function submit(client: FarmApiClient, [specPath]: string[], options: SubmitOptions): Promise<number> {
  let specText: string;
  try {
    specText = readFileSync(specPath!, 'utf8');
  } catch (err) {
    throw new CliError(`${specPath}: ${(err as Error).message}`, EXIT.usage);
  }
  // JSON is YAML too, but a .json file is sent as JSON so the farm's errors speak of JSON.
  const contentType = extname(specPath!).toLowerCase() === '.json' ? 'application/json' : 'application/yaml';
  if (options.dryRun) {
    const estimate = await client.submit(specText, contentType, { dryRun: true });
    process.stdout.write(options.json ? JSON.stringify(estimate, null, 2) + '\n' : formatEstimate(specPath!, estimate as unknown as RunEstimate));
    return EXIT.ok;
  }
  const submitted = await client.submit(specText, contentType, options.idempotencyKey ? { idempotencyKey: options.idempotencyKey } : {});
  const runId = submitted.id!;
  if (!options.wait) {
    process.stdout.write(options.json ? JSON.stringify(submitted) + '\n' : `${runId}\n`);
    return EXIT.ok;
  }
  if (!options.json) process.stdout.write(`${runId}\n`);
  process.stderr.write(`run ${runId} submitted to ${client.baseUrl}${submitted.created === false ? ' (an earlier submission with this idempotency key)' : ''}\n`);
  const status = await followRun(client, runId, { intervalMs: options.interval });
  if (options.json) process.stdout.write(JSON.stringify(status) + '\n');
  process.stderr.write(`run ${runId} ${status.state}${status.error ? `: ${status.error}` : ''}\n`);
  return exitCodeOfRun(status);
}
