import type { Command } from 'commander';
import { registerExportCommand } from './commands/export.js';
import { registerRunActionCommands } from './commands/run-actions.js';
import { registerStatusCommand } from './commands/status.js';
import { registerSubmitCommand } from './commands/submit.js';
import { registerWatchCommand } from './commands/watch.js';

/** The names registerRemoteCommands gives its commands (sdf-farm.ts loads only these for one of them). */
export const REMOTE_COMMANDS = ['submit', 'status', 'watch', 'export', 'cancel', 'retry-failed', 'delete'] as const;

/** The commands that talk to a farm's API (--api / SDF_API_URL, SDF_API_TOKEN) and load nothing of the farm. */
export function registerRemoteCommands(program: Command): void {
  registerSubmitCommand(program);
  registerStatusCommand(program);
  registerWatchCommand(program);
  registerExportCommand(program);
  registerRunActionCommands(program);
}
