import type { Command } from 'commander';
import type { RunStatus } from '../../core/runs/run-status.js';
import type { FarmApiClient } from '../api-client.js';
import { EXIT } from '../exit-codes.js';
import { pipelineProgress } from '../progress.js';
import { examples } from '../help-examples.js';
import { remoteCommand, type RemoteOptions } from '../remote-command.js';
import { runHeadline } from '../stage-progress.js';
import { stageTable } from '../summary.js';

/** `sdf-farm status [RUN]`: one run's status, or the farm's runs as a table. */
export function registerStatusCommand(program: Command): void {
  remoteCommand<RemoteOptions>(program, 'status', status)
    .description("a run's status (--json: the API's status object as is), or without RUN the farm's runs as a table")
    .argument('[run]', 'run id (run_…)')
    .addHelpText('after', examples('sdf-farm status', 'sdf-farm status run_0mabc123de45f6 --json | jq .state'));
}

async function status(client: FarmApiClient, [runId]: string[], options: RemoteOptions): Promise<number> {
  if (runId) {
    const run = await client.runStatus(runId);
    process.stdout.write(options.json ? JSON.stringify(run, null, 2) + '\n' : describeRun(run));
    return EXIT.ok;
  }
  const list = await client.listRuns();
  process.stdout.write(options.json ? JSON.stringify(list, null, 2) + '\n' : runsTable(list.runs));
  return EXIT.ok;
}

function describeRun(run: RunStatus): string {
  const times = [`created ${run.createdAt}`, run.startedAt && `started ${run.startedAt}`, run.finishedAt && `finished ${run.finishedAt}`].filter(Boolean).join(', ');
  const notes = [run.error && `error: ${run.error}`, run.quota && `quota: ${run.quota}`].filter(Boolean).map((n) => `${n}\n`).join('');
  return `${runHeadline(run)}\n${times}\n${notes}${stageTable(run)}model calls ${run.calls}, tokens in ${run.tokens.prompt}, out ${run.tokens.output}\n`;
}

/** One line a run: what a person scanning the farm wants first. */
export function runsTable(runs: RunStatus[]): string {
  if (runs.length === 0) return 'no runs\n';
  const rows = [['id', 'name', 'state', 'created', 'tasks done', 'usd']];
  for (const run of runs) {
    const p = pipelineProgress(run);
    const done = p.documents[0] + p.chats[0];
    const total = p.documents[1] + p.chats[1];
    rows.push([run.id, run.name, run.state, run.createdAt, `${done}/${total}`, `$${run.costUsd.toFixed(4)}`]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c >= 4 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}
