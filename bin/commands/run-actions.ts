import type { Command } from 'commander';
import type { FarmApiClient } from '../api-client.js';
import { EXIT } from '../exit-codes.js';
import { examples } from '../help-examples.js';
import { remoteCommand, type RemoteOptions } from '../remote-command.js';

/** What each one-shot run action calls, and how it says what it did. */
const ACTIONS = {
  cancel: {
    description: 'cancel a run: its waiting tasks are removed, tasks in flight finish',
    call: (client: FarmApiClient, runId: string) => client.cancel(runId),
    says: (r: { id: string; state: string; cancelled: boolean }) => (r.cancelled ? `run ${r.id} cancelled` : `run ${r.id} was already ${r.state}; nothing to cancel`),
  },
  'retry-failed': {
    description: "re-drive a run's dead-lettered tasks (GET /v1/runs/:id/failed lists them)",
    call: (client: FarmApiClient, runId: string) => client.retryFailed(runId),
    says: (r: { id: string; retried: number }) => `run ${r.id}: ${r.retried} failed task(s) queued again`,
  },
  delete: {
    description: 'delete a run: cancels it if active, then removes its Redis state and its files (needs an admin token)',
    call: (client: FarmApiClient, runId: string) => client.deleteRun(runId),
    says: (r: { id: string }) => `run ${r.id} deleted`,
  },
} as const;

/** `sdf-farm cancel|retry-failed|delete RUN`: one request each; `--json` prints the API's answer. */
export function registerRunActionCommands(program: Command): void {
  for (const [name, action] of Object.entries(ACTIONS)) {
    remoteCommand<RemoteOptions>(program, name, async (client, [runId], options) => {
      const answer = await action.call(client, runId!);
      process.stdout.write(options.json ? JSON.stringify(answer) + '\n' : (action.says as (r: typeof answer) => string)(answer) + '\n');
      return EXIT.ok;
    })
      .description(action.description)
      .argument('<run>', 'run id (run_…)')
      .addHelpText('after', examples(`sdf-farm ${name} run_0mabc123de45f6 --api http://farm:8080`));
  }
}
