#!/usr/bin/env node
import { Command } from 'commander';
import { registerAuditCommand } from './commands/audit.js';
import { registerConfigCommand } from './commands/config.js';
import { registerEvalCommand } from './commands/eval.js';
import { registerRunCommand } from './commands/run.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSimCommand } from './commands/sim.js';
import { registerWorkerCommand } from './commands/worker.js';

const program = new Command('sdf-farm').description('synthetic document finetuning data farm').showHelpAfterError();
registerRunCommand(program);
registerEvalCommand(program);
registerServeCommand(program);
registerWorkerCommand(program);
registerSimCommand(program);
registerAuditCommand(program);
registerConfigCommand(program);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`sdf-farm: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
