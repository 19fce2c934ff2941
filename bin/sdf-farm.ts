#!/usr/bin/env node
import { Command, type CommanderError } from 'commander';
import { EXIT } from './exit-codes.js';
import { REMOTE_COMMANDS, registerRemoteCommands } from './remote-commands.js';

const program = new Command('sdf-farm').description('synthetic document finetuning data farm').showHelpAfterError();
// Set before the commands are added, which inherit it: a usage error (unknown option, missing
// argument, a value not among the choices) exits 2, as the README's exit code table says; help exits 0.
program.exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage));
// A remote command (`sdf-farm status` from a laptop) loads only the API client: the local
// commands import the whole farm (producer, workers, SDK, simulator), over a second of start-up.
if (!(REMOTE_COMMANDS as readonly string[]).includes(process.argv[2] ?? '')) {
  const { registerLocalCommands } = await import('./local-commands.js');
  registerLocalCommands(program);
}
registerRemoteCommands(program);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`sdf-farm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(EXIT.failed);
});
