import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { examples } from '../help-examples.js';
import { loadConfig, type FarmConfig } from '../../core/config.js';
import { SpecError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { hasEnded } from '../../core/runs/run-state.js';
import type { RunStatus } from '../../core/runs/run-status.js';
import { parseRunSpec } from '../../core/spec/parse-run-spec.js';
import type { RunSpec } from '../../core/spec/run-spec-schema.js';
import { ProgressView } from '../progress.js';
import { printSummary } from '../summary.js';
import { Releasers } from '../../core/releasers.js';
import { defaultOutDir, outDirProblem } from './out-dir.js';
import { loadPriceTable } from '../../core/cost/price-file.js';
import { PromptLibrary } from '../../core/prompts/prompt-library.js';
import { estimateRun } from '../../producer/run-estimate.js';
import { formatEstimate } from '../estimate-table.js';
import { ApiResponseError, type FarmApiClient } from '../api-client.js';
import { startLocalFarm } from '../local-farm.js';

interface RunCommandOptions {
  out?: string;
  port?: string;
  quiet?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/**
 * `sdf-farm run SPEC`: a whole farm in this process (Redis if none answers, the simulator if no
 * key, API + producer, a worker), submits the spec through the API like any client, shows
 * progress, and writes the outputs to --out.
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run')
    .description('run a spec end to end on this machine (all-in-one farm) and write the outputs')
    .argument('<spec>', 'run spec file (YAML or JSON)')
    .option('--out <dir>', 'where to write documents.jsonl, chats.jsonl, rejected.jsonl, status.json (default DATA_DIR/exports/<runId>; never a run\'s own folder DATA_DIR/<runId>)')
    .option('--port <port>', 'API port (default PORT, else any free port)')
    .option('--quiet', 'no progress output')
    .option('--dry-run', 'print the estimate (tasks per stage, tokens, USD online and batch) and exit: nothing starts, no model is called')
    .option('--json', 'with --dry-run: the estimate as JSON (what POST /v1/runs?dryRun=true answers)')
    .addHelpText('after', examples('sdf-farm run examples/traits-run.yaml --out out/example', 'sdf-farm run examples/traits-run.yaml --dry-run'))
    .action(async (specPath: string, options: RunCommandOptions) => {
      process.exitCode = await runCommand(specPath, options);
    });
}

export async function runCommand(specPath: string, options: RunCommandOptions): Promise<number> {
  let specText: string;
  let spec: RunSpec;
  try {
    specText = readFileSync(specPath, 'utf8');
    spec = parseRunSpec(specText, specPath);
  } catch (err) {
    if (err instanceof SpecError) {
      process.stderr.write(`${specPath}: invalid run spec\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
      return 2;
    }
    process.stderr.write(`${specPath}: ${(err as Error).message}\n`);
    return 2;
  }

  if (options.dryRun) return printEstimate(spec, options);

  const logger = createLogger(process.env.LOG_LEVEL || 'warn');
  const releasers = new Releasers(logger);
  try {
    let config: FarmConfig = loadConfig();
    // Checked before anything starts: a refused --out leaves no run and no files behind.
    const outProblem = options.out === undefined ? undefined : outDirProblem(config.dataDir, options.out);
    if (outProblem) {
      process.stderr.write(`sdf-farm run: ${outProblem}\n`);
      return 2;
    }
    const port = options.port !== undefined ? Number(options.port) : process.env.PORT ? config.port : 0;
    const farm = await startLocalFarm({ config, logger, releasers, port });
    config = farm.config;
    const { client } = farm;
    const body = await client.submit(specText, 'application/yaml').catch((err: unknown) => {
      const problems = err instanceof ApiResponseError ? (err.body.problems ?? []) : [];
      throw new Error(`submission refused: ${(err as Error).message} ${problems.join('; ')}`);
    });
    if (!body.id) throw new Error(`submission refused: no run id in ${JSON.stringify(body)}`);
    process.stderr.write(`run ${body.id} submitted to ${client.baseUrl}\n`);

    const view = new ProgressView(!options.quiet && Boolean(process.stderr.isTTY), { documents: Boolean(spec.documents), chats: Boolean(spec.chats) });
    const started = Date.now();
    let status: RunStatus;
    for (;;) {
      status = await client.runStatus(body.id);
      if (!options.quiet) view.update(status);
      if (hasEnded(status.state)) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    view.stop();
    const outDir = resolve(options.out ?? defaultOutDir(config.dataDir, body.id));
    // Again at the point of writing, whatever chose the folder: never into a run's own files.
    const exportProblem = outDirProblem(config.dataDir, outDir);
    if (exportProblem) throw new Error(exportProblem);
    const files = await exportAll(client, body.id, outDir);
    writeFileSync(join(outDir, 'status.json'), JSON.stringify(status, null, 2) + '\n');
    printSummary(status, files, (Date.now() - started) / 1000);
    return status.state === 'completed' ? 0 : 1;
  } catch (err) {
    process.stderr.write(`sdf-farm run: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await releasers.release();
  }
}

/** The same estimate the API's dry run gives, from the same prices and templates (SDF_PRICES_FILE, PROMPTS_DIR). */
function printEstimate(spec: RunSpec, options: RunCommandOptions): number {
  let config: FarmConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`sdf-farm run: ${(err as Error).message}\n`);
    return 2;
  }
  const estimate = estimateRun(spec, { prices: loadPriceTable(config.pricesFile), prompts: new PromptLibrary(config.promptsDir) });
  process.stdout.write(options.json ? JSON.stringify({ dryRun: true, ...estimate }, null, 2) + '\n' : formatEstimate(spec.name ?? 'run', estimate));
  return 0;
}

/** Writes each output kind through the export API, the same path any client uses. */
async function exportAll(client: FarmApiClient, runId: string, outDir: string): Promise<Record<string, { path: string; records: number }>> {
  mkdirSync(outDir, { recursive: true });
  const files: Record<string, { path: string; records: number }> = {};
  for (const kind of ['documents', 'chats', 'rejected'] as const) {
    const exported = await client.exportStream(runId, { kind, format: 'raw' });
    const path = join(outDir, `${kind}.jsonl`);
    // Streamed to disk: an export can be gigabytes. Every record is one line.
    let records = 0;
    const countLines = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) records++;
        done(null, chunk);
      },
    });
    await pipeline(Readable.fromWeb(exported as WebReadableStream), countLines, createWriteStream(path));
    files[kind] = { path, records };
  }
  return files;
}
