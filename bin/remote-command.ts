import { Option, type Command } from 'commander';
import { DEFAULT_API_URL, FarmApiClient } from './api-client.js';
import { reportFailure } from './exit-codes.js';

/** Options every remote command takes. */
export interface RemoteOptions {
  api: string;
  json?: boolean;
}

/**
 * A command that talks to a farm's API: `--api` (else `SDF_API_URL`), `--json`, the token from
 * `SDF_API_TOKEN`, and one way of reporting failures with the exit codes of exit-codes.ts. The
 * action returns its exit status.
 */
export function remoteCommand<O extends RemoteOptions>(
  program: Command,
  name: string,
  action: (client: FarmApiClient, args: string[], options: O) => Promise<number>,
): Command {
  const command = program.command(name);
  command
    .addOption(new Option('--api <url>', "the farm API's base URL").env('SDF_API_URL').default(DEFAULT_API_URL))
    .option('--json', 'machine-readable output (failures too: one JSON object on stderr)')
    .action(async (...received: unknown[]) => {
      // Commander passes the declared arguments, then the options, then the command.
      const options = received[received.length - 2] as O;
      const args = received.slice(0, -2) as string[];
      try {
        const client = new FarmApiClient({ baseUrl: options.api, token: process.env.SDF_API_TOKEN });
        process.exitCode = await action(client, args, options);
      } catch (err) {
        process.exitCode = reportFailure(name, err, Boolean(options.json));
      }
    });
  return command;
}
