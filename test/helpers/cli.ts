import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './farm.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `sdf-farm ARGS` as a user runs it: a child process on the TypeScript sources, run to its exit.
 * `env` is laid over this process's environment (LOG_LEVEL warn); `unset` names variables the
 * child must not inherit at all (an empty value is not the same as none for every option).
 */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, unset: string[] = []): Promise<CliResult> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env };
  for (const name of unset) delete childEnv[name];
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bin/sdf-farm.ts'), ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
