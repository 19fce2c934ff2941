import type { Command } from 'commander';
import type { FarmApiClient } from '../api-client.js';
import { exitCodeOfRun, followRun, intervalOption } from '../follow-run.js';
import { examples } from '../help-examples.js';
import { remoteCommand, type RemoteOptions } from '../remote-command.js';

interface WatchOptions extends RemoteOptions {
  interval: number;
}

/** `sdf-farm watch RUN`: live progress until the run ends; the exit status says how it ended. */
export function registerWatchCommand(program: Command): void {
  remoteCommand<WatchOptions>(program, 'watch', watch)
    .description('follow a run live: a bar per stage with rate, ETA, acceptance rate and spend; exits when the run ends (0 if completed)')
    .argument('<run>', 'run id (run_…)')
    .option('--interval <ms>', 'time between status polls', intervalOption, 1000)
    .addHelpText(
      'after',
      examples('sdf-farm watch run_0mabc123de45f6', 'sdf-farm watch run_0mabc123de45f6 --json   # one status object a line, per poll') +
        '\nWithout a terminal (CI, a pipe) it prints plain lines every 5 s and once at the end.\n',
    );
}

async function watch(client: FarmApiClient, [runId]: string[], options: WatchOptions): Promise<number> {
  const status = await followRun(client, runId!, { intervalMs: options.interval, json: Boolean(options.json) });
  if (!options.json) process.stderr.write(`run ${runId} ${status.state}${status.error ? `: ${status.error}` : ''}\n`);
  return exitCodeOfRun(status);
}
