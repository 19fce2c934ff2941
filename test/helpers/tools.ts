import { spawnSync } from 'node:child_process';

/** Runs a system tool; a missing tool is an error that says how to install it, never a silent skip. */
export function runTool(command: string, args: string[], options: { cwd?: string; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`${command} is not installed: run .ci/install-tools.sh (it apt-installs prometheus and kubectl)`);
  }
  return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr };
}
