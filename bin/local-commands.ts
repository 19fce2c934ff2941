import type { Command } from 'commander';
import { registerAuditCommand } from './commands/audit.js';
import { registerConfigCommand } from './commands/config.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerRunCommand } from './commands/run.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSimCommand } from './commands/sim.js';
import { registerWorkerCommand } from './commands/worker.js';

/** The commands that are (part of) a farm on this machine, or work on local files. */
export function registerLocalCommands(program: Command): void {
  registerRunCommand(program);
  registerEvalCommand(program);
  registerServeCommand(program);
  registerWorkerCommand(program);
  registerSimCommand(program);
  registerAuditCommand(program);
  registerConfigCommand(program);
}
